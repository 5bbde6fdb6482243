// Package splunk sends events to a Splunk HTTP Event Collector (HEC): the
// "splunk_hec" destination.
//
// It is a [batch.Destination] whose flush POSTs the batch to
// /services/collector/event as HEC event objects, one after the other:
// {"time", "host", "source", "sourcetype", "index", "event"}, where
// "event" is the raw line (or the event's JSON object, with event
// "json"). The token goes in "Authorization: Splunk <token>" and nowhere
// else: errors and logs name the collector as scheme://host and mask the
// token in anything HEC echoes.
//
// # Indexer acknowledgement
//
// With ackEnabled, every request carries the channel (query parameter
// and X-Splunk-Request-Channel header), HEC answers with an ackId, and
// the batch polls /services/collector/ack every ackPollInterval until the
// id is reported true: only then are its events acked. An id not
// confirmed within ackTimeout (lost when an indexer restarts) makes the
// batch be sent again, with a new id. A batch holds its flush slot while
// it waits, so at most batch.parallelism acks are outstanding per
// destination.
//
// # Delivery guarantees
//
//	Outcome                             Retried?                          Acked?
//	----------------------------------  --------------------------------  --------------------------------------
//	200 code 0                          no                                yes; with ackEnabled only once the ack
//	                                                                      endpoint reports its ackId true
//	ack not confirmed in ackTimeout     yes, the whole batch, new ackId   after the retry is confirmed
//	429, 408, 5xx (503 code 9 "Server   yes, with back-off (batch.retry)  after the retry that succeeds
//	  is busy"), timeout, network       at least Retry-After
//	400 with invalid-event-number       the other events, at once         the refused one when the dead letter
//	  (an event HEC refused)                                              acks it (with HEC's code and text);
//	                                                                      without a dead letter Run stops
//	401, 403 (token), other 400         no                                the whole batch to the dead letter,
//	  (channel, ACK is disabled)                                          or Run stops
//	retries exhausted (only with        no                                as a refused event
//	  batch.retry.maxAttempts)
//	shutdown                            for batch.stopTimeout             what is confirmed by then
//
// Duplicates: a batch sent again after a timeout, a lost ack, or a
// refused event (HEC indexes the events before the one it refuses) may
// be indexed twice; so may a batch redelivered after a crash. HEC has no
// idempotent write.
package splunk
