package httpsrc

// RecordLimit bounds the record of one event for a disk buffer behind
// the source (see daemon.EventLimiter): an event's raw bytes are part of
// one body, of at most maxBodyBytes.
func (c *Config) RecordLimit() (int64, string) { return c.MaxBodyBytes, "maxBodyBytes" }
