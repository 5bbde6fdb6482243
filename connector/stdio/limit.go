package stdio

// MaxRecordBytes bounds the record of one event for a disk buffer behind
// the source (see daemon.EventLimiter): a line of at most maxLineBytes.
func (c *ScannerConfig) MaxRecordBytes() (int64, string) {
	return int64(c.MaxLineBytes), "maxLineBytes"
}
