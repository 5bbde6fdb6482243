// Package kafka consumes and produces Apache Kafka topics with franz-go:
// the "kafka" source, a consumer group member, and the "kafka"
// destination, an idempotent producer. Both speak to any Kafka-compatible
// broker (Kafka 2.4+, Redpanda, WarpStream), over plaintext or TLS, with
// SASL PLAIN or SCRAM.
//
// # Source
//
// Each record becomes an event: Raw is the record's value, Time its
// timestamp, and the message's Key and Topic are the record's (a kafka
// destination keeps the key). The [Source] is a [sluice.BatchSource];
// Recv and RecvBatch are safe for concurrent use.
//
// Offsets are never committed automatically. Each partition's records go
// through a [checkpoint.Tracker] in fetch order, and a commit, every
// commitInterval (1s), writes for each partition the offset after the
// longest run of acked records from where it started: the contiguous
// acked low watermark, as Kafka Connect and Vector commit. A record acked
// early, while one before it is still in flight, is committed only once
// that one is acked too. At most maxPending records (10000) are fetched
// and not yet acked; fetching waits at the bound.
//
// When the group moves a partition away (a member joins or leaves), the
// revoke commits the partition's acked watermark before the partition is
// given up, and ends this member's assignment of it: its records fetched
// and not yet handed out are dropped (counted, cause "revoked"), and acks
// that arrive later for records already handed out are not committed by
// this member. The partition's new owner reads from the watermark, so
// those records are delivered again: nothing is lost, and the duplicates
// are the records in flight at the revoke. Partitions lost without a
// revoke (the session expired) are given up without a commit.
//
// With startAt "end", a newly assigned partition with no committed offset
// has its end offset committed in OnPartitionsAssigned, before franz-go
// fetches from it, so a restart resumes there. If listing or committing
// fails three times in the callback (franz-go asks it to be short), none
// of the partition's records is handed on until the fetch loop has
// committed the offset of the first one fetched, where franz-go started
// it; the loop tries again with back-off and waits meanwhile, and
// [Source.NotReady] names the partition and the broker's answer (/readyz
// answers 503). A partition whose start is not committed within
// startTimeout (1m) fails the source with an error naming it and the
// broker's answer: sluiced stops rather than hand on a record it could
// skip after a restart.
//
// # A member that is killed
//
// A member killed with SIGKILL sends no LeaveGroup, and the broker keeps
// its partitions until its session times out (45s by default in other
// clients) and the group rebalances: nothing is read from them meanwhile.
// The source uses static membership (KIP-345): its group.instance.id is
// made once and kept in the data directory (kafka/<name>.instance-id), so
// a restarted sluiced rejoins as the same member and the broker hands it
// its partitions back at once, with no rebalance of the other members;
// it resumes from the committed offsets. For a member that does not come
// back, sessionTimeout defaults to 10s (heartbeats every 1s), so its
// partitions move to the others after 10s rather than 45s. On a clean
// stop the source commits and leaves the group explicitly (franz-go does
// not leave for a static member), so its partitions move at once.
//
// Static membership was chosen over the KIP-848 protocol because it works
// with every broker sluice targets (848 needs Kafka 4.0, and 4.3 for
// commits franz-go can always handle), and over a short session timeout
// alone because a restart takes its partitions back without waiting for
// any timeout. Two sluiced processes must not share a data directory: the
// same instance id fences one of them. Set instanceID to choose the id.
//
// # Destination
//
// Each event becomes one record of the topic: its raw bytes, or its JSON
// with format "json". The key is the event field named by key, or the key
// the event came with from a kafka source; records of one key go to one
// partition, in order. [Destination.Send] is safe for concurrent use; it
// returns once its records are handed to the producer, and blocks while
// maxBuffered records (10000) wait for the brokers. The producer sends
// as soon as it can (no linger): a Send's records go out together, and
// under load the records that wait for a request in flight make the
// batches.
//
// The producer is idempotent (with acks "all", the default): a retried
// produce request is not written twice. A Send is acked when the brokers
// acknowledged every one of its records with the configured acks: "all"
// means every in-sync replica has it. franz-go retries transient failures
// (leader changes, brokers down) without limit. A record that fails
// permanently (authorisation, a topic deleted) goes to the dead letter if
// there is one; otherwise Run fails with the error and the daemon stops,
// the record unacked.
//
// An event larger than maxMessageBytes, or than the topic's
// max.message.bytes (read at start, less 128 bytes of record overhead),
// is not produced: it goes to the dead letter, or is counted (dropped,
// cause "oversize"), logged at most once a second, and acked, so that one
// oversize event does not stop the pipeline. Batches are cut to fit the
// topic's max.message.bytes.
//
// # Delivery guarantees
//
//	Source: an event is acked when      its destination stored it
//	Source: the offset is durable when  committed: every commitInterval, at a revoke, at stop
//	Source: duplicates after a crash    records acked but not yet committed (≤ commitInterval of
//	                                    traffic) plus those in flight (≤ maxPending), per partition
//	                                    of the killed member
//	Destination: an event is acked when the brokers acknowledged its record with acks (default all)
//	Destination: duplicates             none from retries (idempotent producer); a source's
//	                                    redelivery after a crash may write an event again
//
// At start, a broker that cannot be reached is retried with back-off
// (100ms growing to 10s, logged at Warn naming the brokers), and
// [Source.NotReady] and [Destination.NotReady] say so (/readyz is not
// ready). Failed authentication and a topic that does not exist fail the
// start at once with an error that names the field or the topic; sluiced
// does not create topics.
package kafka
