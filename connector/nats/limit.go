package nats

// maxSubjectBytes bounds a subject: the server's max_control_line (4 KiB
// by default) bounds the line that carries it. A server configured with a
// longer line may send a longer subject; such an event, should it be too
// large for a disk buffer, is handled there (see the daemon's route dead
// letter).
const maxSubjectBytes = 4 << 10

// RecordLimit bounds the record of one event for a disk buffer behind the
// source (see daemon.EventLimiter): a payload of at most maxMessageBytes
// (a larger one is counted and terminated) and its subject, in the
// "subject" field.
func (c *SourceConfig) RecordLimit() (int64, string) {
	return int64(c.MaxMessageBytes) + maxSubjectBytes, "maxMessageBytes"
}
