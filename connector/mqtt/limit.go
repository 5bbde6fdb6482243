package mqtt

// maxTopicBytes is MQTT's limit on a topic name: a two-byte length.
const maxTopicBytes = 1<<16 - 1

// RecordLimit bounds the record of one event for a disk buffer behind the
// source (see daemon.EventLimiter): a payload of at most maxMessageBytes
// (a larger one is counted and not passed on) and its topic, in the
// "topic" field.
func (c *SourceConfig) RecordLimit() (int64, string) {
	return int64(c.MaxMessageBytes) + maxTopicBytes, "maxMessageBytes"
}
