package clickhouse

// Decompress is decompress, for the external tests' servers.
var Decompress = decompress
