package file

// RecordLimit bounds the record of one event for a disk buffer behind
// the source (see daemon.EventLimiter): a line, or the lines joined by
// multiline, of at most maxLineBytes.
func (c *SourceConfig) RecordLimit() (int64, string) { return int64(c.MaxLineBytes), "maxLineBytes" }
