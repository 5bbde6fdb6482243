// Package clickhouse provides the "clickhouse" destination: batches of
// events INSERTed into a ClickHouse table over its HTTP interface, which
// every server version has (18.x included).
//
// Each batch is one POST of INSERT INTO database.table FORMAT JSONEachRow,
// one JSON object per event ([event.Event.AppendJSON]); the table's
// columns are matched to the event's top-level JSON names (ts, receivedAt,
// source, sourceType, host, contentType, raw, flags) and, with
// Config.Nested "flatten" (the default), to the dotted paths of the
// values in its nested objects (file.path, syslog.appName,
// syslog.structuredData.ID.param, http.status, fields.NAME), which every
// server version matches to columns of those names. The settings go as
// URL parameters, with
// input_format_skip_unknown_fields=1 so that the fields the table lacks
// are ignored. The body is sent in ClickHouse's own compressed format
// (LZ4 blocks, URL parameter decompress=1) by default, or gzipped. Idle connections are
// dropped after Config.IdleTimeout (2s), before the server's keep-alive
// (3s by default) closes them under a new request. Redirects are not
// followed.
//
// # Delivery guarantees
//
// An event is acked once the INSERT holding it was answered 200 and the
// response ended without an exception: the server has written the rows.
// (A server that sent its 200 early, with send_progress_in_http_headers,
// writes a later failure at the end of the body; that exception is
// classified as below, an unknown code counting as a 500, and a 200 body
// cut short is retried like a reset connection.) Errors are told apart by ClickHouse's
// error code, read from the response body ("Code: 60, ..."), before the
// HTTP status, since old servers answer 500 to most errors:
//
//	Outcome of an INSERT                     Retried?                     Acked?
//	---------------------------------------  ---------------------------  ----------------------------------
//	200                                      no                           yes, every event of the batch
//	a row that does not parse (code 6, 27,   no: the row is set aside     the row when the dead letter has
//	  41, 53, 72, 117, ... "at row N")       and the others are sent      it (attribute "error": the
//	                                         again at once (at most 16    server's message); the others
//	                                         rows per batch, then as      when their INSERT succeeds
//	                                         below)
//	schema, query or login errors (code 60   no, whatever the status      when the dead letter acks the
//	  unknown table, 16 no such column, 81                                batch; without one Run stops
//	  unknown database, 193 wrong password,                               with the server's message
//	  ...), other 4xx
//	overload and transient codes (252 too    yes, exponential back-off    after the retry that succeeds
//	  many parts, 241 memory limit, 202,     (at least Retry-After)
//	  159, 319, ...), 5xx, 429, 408
//	timeout, reset connection                yes, exponential back-off    after the retry that succeeds
//
// MergeTree tables do not deduplicate inserts: a batch retried after a
// timeout or a reset connection, whose first INSERT the server did
// complete, is stored twice, and so are the events inserted but not yet
// acked when sluiced is killed (the source sends them again). Replicated
// tables drop an INSERT identical to a recent one (insert_deduplicate),
// but a batch sent again after a restart is usually cut differently.
// Use a ReplacingMergeTree keyed on a unique column, or deduplicate at
// query time, where duplicates matter.
package clickhouse
