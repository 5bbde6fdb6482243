// Package nats is the "nats" source and destination: NATS JetStream with
// github.com/nats-io/nats.go and its jetstream package. It needs
// nats-server 2.9 or later (Debian's is 2.9) and uses nothing of 2.10:
// one filter subject per consumer (FilterSubject, not FilterSubjects).
//
// # Source: a durable pull consumer, acked after delivery
//
// The source creates (or updates) a durable pull consumer on an existing
// stream, with explicit acks, and pulls fetchBatch messages at a time.
// The server keeps the consumer's state: which messages were acked.
//
//	Moment                                   What happens
//	---------------------------------------  ------------------------------------------
//	destination acks a message               Ack to the server (acks may go out of order:
//	                                         JetStream tracks each message)
//	destination slow                         every message received is held until acked (the
//	                                         pulled ones too) and reported in progress every
//	                                         ackWait/3 (no redelivery); at maxAckPending
//	                                         held, the server sends no more until acks come
//	server sends a message again anyway      a copy of a message held, or among the
//	(no report reached it within ackWait:    4×maxAckPending acked last, is dropped (the
//	sluiced starved of CPU)                  held one's ack settles it; an acked one's copy
//	                                         is acked again); an older one is passed on
//	sluiced killed with messages in flight   the server sends each unacked one again after
//	                                         ackWait: duplicates, at most maxAckPending
//	clean stop                               Recv ends; up to 2s for acks of what was handed
//	                                         out; messages never handed out are naked (sent
//	                                         again at once)
//	message over maxMessageBytes             terminated (never sent again), counted
//	                                         (dropped, "oversize") and logged
//
// fetchBatch must not exceed maxAckPending: a pull for more messages than
// the server may send would wait for messages that cannot come.
//
// # Destination: JetStream publish, acked on PubAck
//
// Events are grouped in batches (package batch); a batch's publishes are
// asynchronous, in flight together, and its ack waits for every PubAck
// (the stream stored the message, replicated as the stream is
// configured). A file-storage stream writes each message to the
// operating system at once and fsyncs it periodically (every 2 minutes by
// default; nats-server 2.10 can fsync every write with sync_interval:
// always): a power loss of a single server can lose what it acknowledged
// last, a replicated stream (R3) does not. At start, the destination asks the server which stream
// captures its subject: none is an error that names the subject. Later, a
// publish nothing answers (the stream was deleted) fails the batch with an
// error naming the subject, and it is retried with back-off, never
// acked. A batch retried after a timeout may leave some of its messages
// twice in the stream.
//
// # Credentials
//
// One of credentialsFile (a .creds file), token, or user and password.
// A server that refuses them stops the connector at start with an error
// naming these fields; the secrets never reach a log line.
package nats
