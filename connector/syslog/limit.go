package syslog

// RecordLimit bounds the record of one event for a disk buffer behind
// the source (see daemon.EventLimiter): the raw message, of at most
// maxMessageBytes, and its parsed fields, which are parts of it.
func (c *Config) RecordLimit() (int64, string) {
	return 2 * int64(c.MaxMessageBytes), "maxMessageBytes"
}
