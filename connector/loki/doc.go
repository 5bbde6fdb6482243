// Package loki provides the "loki" destination: batches of events pushed
// to Grafana Loki's push API (POST /loki/api/v1/push, JSON).
//
// Each event is one entry: its timestamp ([event.Event.Timestamp]) in
// nanoseconds as a string, and its line, the raw bytes by default. The
// entry's stream is its label set, each value made from the event by a
// template (Config.Labels), such as {"job": "sluiced", "app":
// "{syslog.appName}"}. A push groups a batch's entries by stream, each
// stream in time order; batches are at most 1 MiB by default (Loki
// refuses 4 MiB: a push whose JSON escaping takes it over is split, and
// an entry over the limit alone is dead-lettered) and pushed one at a time (batch.parallelism 1) so that
// each stream's pushes arrive in order.
//
// # Delivery guarantees
//
// An event is acked once Loki answered 2xx (204) to a push holding it.
//
//	Outcome of a push                          Retried?                      Acked?
//	-----------------------------------------  ----------------------------  --------------------------------
//	204                                        no                            yes, every entry of the batch
//	429, 5xx, 408, timeout, reset              yes, exponential back-off,    after the retry that gets 204
//	                                           at least Retry-After
//	400 naming refused entries (too old, too   the entries it does not       refused entries when the dead
//	  new, too far behind the stream, line       name are pushed again at    letter has them (attribute
//	  too long, bad labels)                      once (Loki drops those it   "error": Loki's message); the
//	                                             stored already)             others once pushed
//	400 naming none, other 4xx                 no                            dead letter, or Run stops
//
// Loki stores the valid entries of a push that also has refused ones, and
// lists at most 10 refused entries per stream; so after a 400 the entries
// it did not name are pushed again until Loki stores them (204) or names
// them, at most 8 rounds, after which the rest is dead-lettered with
// Loki's last message. Names match by stream and timestamp; Loki writes
// "too old" and "too new" timestamps to the second, so an entry of the
// same second on the accepted side of the limit may go to the dead letter
// too (it is then also in Loki).
//
// Duplicates: a push retried after a timeout or after a 400 holds
// entries Loki may have already, and so do the events a source sends
// again after sluiced was killed. Loki drops an entry whose stream,
// timestamp and line equal one it holds, so a retried push leaves no
// copy; but an event without a time of its own (a line read from a file)
// takes the time it was read, and read again after a restart it is a new
// entry: it shows twice.
package loki
