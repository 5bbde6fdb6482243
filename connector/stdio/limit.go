package stdio

// RecordLimit bounds the record of one event for a disk buffer behind
// the source (see daemon.EventLimiter): a line of at most maxLineBytes.
func (c *ScannerConfig) RecordLimit() (int64, string) {
	return int64(c.MaxLineBytes), "maxLineBytes"
}
