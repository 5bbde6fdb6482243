// Package sluicetest is the conformance suite for [sluice.Source] and
// [sluice.Destination] implementations, in the manner of testing/slogtest.
//
// A connector declares what it promises in [Features] and gives a
// [NewPair] function that opens a Source and a Destination over the
// storage called name; [Run] then checks every promise in a subtest. Here
// the connector is a memory.Queue, which is its own Source and
// Destination:
//
//	func TestConformance(t *testing.T) {
//		sluicetest.Run(t, sluicetest.Features{Ordered: true, ConcurrentRecv: true, ConcurrentSend: true, Binary: true},
//			func(t *testing.T, name string) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
//				q := memory.New[[]byte](0) // a new queue: nothing survives a restart, so not Durable
//				t.Cleanup(q.Close)
//				return q, q
//			})
//	}
//
// Connectors of other message types use [Suite], which also takes the
// [Storage] hooks that let the suite check a durable destination's acks
// against what it really stored. An author who writes only a Source uses
// [SourceSuite], only a Destination [DestinationSuite]. docs/connectors.md
// in the repository walks through a whole connector and its test.
//
// Each subtest is named for its rule and each failure message starts with
// the rule it breaks:
//
//   - round-trip: random payloads sent one per Send all arrive, byte for
//     byte, each exactly once. A Recv that returns io.EOF early fails as
//     "round-trip: unexpected io.EOF".
//   - ack-exactly-once: each Send's ack is called once, never twice. The
//     receiver acks some messages twice at once: a repeated ack counts
//     once. When the Source and the Destination are one value and no ack
//     fires before the receiver acks (a pass-through queue such as
//     memory.Queue), a Send's ack must also wait until every one of its
//     messages was acked.
//   - recv-ack: Recv never returns a nil ack with a nil error.
//   - send-msgs (every Send of every subtest): Send leaves the messages of
//     the msgs slice as they were, and does not keep the slice: once Send
//     returns, the suite writes other messages over it, which must never
//     arrive, and checks at the end that the slice still holds them.
//   - no-ack-on-error: a Send that returns an error never calls its ack,
//     not even after Run stops; Send and Recv with a cancelled context
//     return errors wrapping [context.Canceled].
//   - empty-send: Send with no messages returns nil, acks, and writes
//     nothing.
//   - recv-cancel, send-cancel: a blocked Recv, and a Send in flight, return
//     within 1s (or Timeout, if shorter) of their context being cancelled.
//   - pre-cancelled: with an already-cancelled context, Recv and Send return
//     at once; Recv consumes nothing and Send writes nothing.
//   - run-stop: the Run method of a Source or Destination that is a
//     [sluice.Runner] returns nil or context.Canceled within Timeout of its
//     context being cancelled (or [sluice.ErrUndelivered], when it stopped
//     holding messages it could not deliver and did not ack), and no
//     goroutine started in a subtest is left once it ends. Every subtest
//     checks this.
//   - concurrent-recv, concurrent-send: with four goroutines receiving (or
//     sending) at once, every message arrives exactly once. Run them with
//     -race.
//   - redelivery (Durable): a random half of the messages received is
//     acked, each ack called twice from eight goroutines at once; after a
//     restart the other half comes back. A second call of an ack must not
//     ack another message, and a source must not commit past a message
//     not acked.
//   - restart-after-ack (Durable): the moment a Send's ack is called, the
//     suite restarts, before any write the destination put off could
//     land; the message must come back.
//   - order: one sender's messages arrive in the order sent.
//   - recv-batch (a source that is a [sluice.BatchSource]; skipped
//     otherwise): round-trip and ack-exactly-once with the messages taken
//     by RecvBatch, which must return 1 to len(msgs) of them or an error.
//   - send-batch (a destination that is a [sluice.BatchDestination];
//     skipped otherwise): SendBatch with no messages returns nil; then
//     round-trip, ack-exactly-once and no-ack-on-error with every message
//     written by SendBatch, each with its own ack (a Send's ack fires once
//     all of them were called). Under send-msgs, SendBatch must not change
//     its acks slice, nor call an ack through it after it returned.
//   - readback (every ack, with [Storage].Read): when a Send's ack is
//     first called, its messages are in the storage (or were received).
//     The check runs inside the ack, so a destination that acks first and
//     writes after is caught every time.
//   - write-fault (with [Storage].Fail): while every write to the storage
//     fails, no ack is called; acks that come once it works again pass
//     readback.
//
// The suite calls NewPair once per subtest with a fresh name, and runs a
// Runner in a goroutine until the subtest ends. A restart cancels the
// runners, waits for them, and calls NewPair again with the same name, so
// a pair must release what a restart needs (locks, consumer membership)
// when its Run returns; everything else may wait for t.Cleanup, which runs
// before the goroutine check. Every Send and Recv has a deadline, so a
// broken connector fails the suite rather than hanging it.
//
// Payloads are random, from a seed the suite logs; set SLUICETEST_SEED to
// replay a failure. The goroutine check sees every goroutine of the test
// binary: do not call t.Parallel in a test that calls Run, and open
// clients in NewPair rather than share one between subtests.
package sluicetest
