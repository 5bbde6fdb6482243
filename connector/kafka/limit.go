package kafka

// RecordLimit bounds the record of one event for a disk buffer behind the
// source (see daemon.EventLimiter): a record value of at most
// maxMessageBytes (the key and topic are not part of the event).
func (c *SourceConfig) RecordLimit() (int64, string) {
	return int64(c.MaxMessageBytes), "maxMessageBytes"
}

// oversize disposes of a record over MaxMessageBytes: acked at once
// without being handed out (holding it back would stop the partition's
// commits for good), counted and logged.
func (s *Source) oversize(it *item) {
	if it.done.CompareAndSwap(false, true) {
		it.p.t.Ack(it.seq)
		s.releaseN(1)
	}
	if s.o.hooks.Oversize != nil {
		s.o.hooks.Oversize()
	}
	s.o.log.Warn("kafka source: record over maxMessageBytes dropped", "topic", it.rec.Topic, "partition", it.rec.Partition,
		"offset", it.rec.Offset, "bytes", len(it.rec.Value), "maxMessageBytes", s.cfg.MaxMessageBytes)
}
