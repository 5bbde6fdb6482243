// Package socket forwards events over a TCP connection, optionally TLS:
// the "socket" destination, for syslog forwarding in the manner of
// rsyslog's omfwd and Vector's socket sink.
//
// Each event becomes one frame: with framing "lf", its bytes and a
// newline; with "octet", RFC 6587 octet counting, "LEN SP MSG". The bytes
// are the event's original ones ([event.Event.Raw], format "raw") or its
// JSON encoding ([event.Event.AppendJSON], format "json"). An event whose
// encoding is empty is not sent: octet counting cannot carry it, and a
// receiver skips a blank line. With lf framing, an event that holds a
// newline is written as it is, and so reaches the receiver as several
// frames; each such event is counted (hook cause "newline") and logged at
// most once a minute. Use octet framing, which keeps every event one
// frame, when events may hold newlines. Receivers that detect the framing
// of each frame (rsyslog's imtcp, sluice's syslog source) also take an lf
// frame that starts with digits and a space as octet-counted; syslog
// messages start with "<", and JSON with "{", so this concerns only raw
// events of other kinds.
//
// # Batches and connections
//
// The Destination is a [batch.Destination]: Send is the batch package's
// and is safe for concurrent use. Each flush encodes its batch into one
// pooled buffer and writes it with one Write call (no system call per
// event). The connection is dialled lazily, by the first flush, and kept
// for the following ones.
//
// Each flush in flight has a connection of its own: a flush takes an idle
// connection, or dials one, and gives it back when its write succeeded.
// So the bytes of two batches never interleave, no lock is held while
// writing, and there are at most batch.parallelism connections. The
// default parallelism is 1: one connection, and events arrive in the order
// they were sent (a retried batch may repeat some). With a higher
// parallelism, batches go out on several connections at once and the
// receiver may see them in any order.
//
// # Delivery guarantees
//
// TCP has no application-level acknowledgement, and this destination does
// not implement one (RELP is not supported). A batch is acked once every
// one of its bytes was written to the connection, that is, handed to the
// kernel: not when the receiver has read it, let alone stored it.
//
//	Outcome of a flush                 Retried?                        Acked?
//	---------------------------------  ------------------------------  -----------------------------
//	every byte written                 no                              yes, every event of the batch
//	dial or TLS handshake fails,       yes, exponential back-off       after the retry that writes
//	  or takes over dialTimeout        (batch.retry), on a new         every byte
//	                                   connection
//	write fails (reset, broken pipe)   yes, the same; the connection   after the retry that writes
//	  or takes over writeTimeout       is closed first                 every byte
//	retries exhausted (only when       no                              when the dead letter acks it;
//	  batch.retry.maxAttempts is set;                                  without one, Run stops and the
//	  default: no limit)                                               daemon stops
//	shutdown                           held batches are written for    yes for what is written in time;
//	                                   batch.stopTimeout               the rest is not acked
//
// So delivery is at least once, with two limits that TCP itself sets, the
// same as for rsyslog's omfwd with plain TCP and for Vector's socket sink:
//
//   - A batch whose write failed part way is written again, whole, on a new
//     connection: the receiver may see its first events twice.
//   - Bytes the kernel accepted are lost if the peer then resets the
//     connection (it crashed, or closed it with data unread) before reading
//     them; their batch may have been acked already.
//
// A peer that closes an idle connection is noticed before the next batch
// is written: each connection has a goroutine that reads from it (and
// discards what it reads: a syslog receiver sends nothing, TLS may send
// session tickets), and the read ends when the peer closes or resets the
// connection. The next flush then redials instead of writing into a dead
// connection, which would have lost its first batch. A close that comes
// while a batch is being written, or just before, is noticed only through
// the write error, and the second limit above applies. A peer that vanished
// without closing (its host went down) is found by the write timeout, or,
// while idle, by TCP keep-alives (Go's default of 15s).
package socket
