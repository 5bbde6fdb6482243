package otlp

// RecordLimit bounds the record of one event for a disk buffer behind the
// source (see daemon.EventLimiter): a log record's raw JSON, of at most
// maxRecordBytes (a larger record is rejected in the reply's partial
// success, before anything is acked).
func (c *SourceConfig) RecordLimit() (int64, string) {
	return int64(c.MaxRecordBytes), "maxRecordBytes"
}
