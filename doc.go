// Package sluice moves events from where they are to where they are more
// useful, with at-least-once delivery.
//
// The model has three parts:
//
//   - A [Source] produces messages: Recv returns the next [Message] and an
//     ack function.
//   - A [Destination] consumes them: Send writes messages and calls the ack
//     it was given once, and only once, every message of that call is
//     durably written.
//   - A [Handler] is a function from one message to zero or more messages.
//     Handlers never ack.
//
// A [Processor] loops Recv → Handle → Send, one message at a time per loop,
// and runs [Parallelism] loops. Every call is blocking and cancellable by its
// context. A pass-through loop (the [Pipe] handler) moves messages in
// batches instead when its source is a [BatchSource]: the acks, the errors
// and the order are the same. If the destination is also a
// [BatchDestination], each message keeps its own ack on the way, and the
// hand-off allocates nothing.
//
// # Acknowledgement
//
// An ack means "delivered durably". The rules, which give at-least-once
// delivery end to end:
//
//   - Recv returns either a non-nil ack or an error.
//   - A destination calls the ack passed to Send at most once, after every
//     message of that call is written, and never when Send returns an error.
//     Callers may pass a nil ack; destinations call it through [Ack].
//   - When a handler returns zero messages and no error, the Processor acks
//     the source message itself: it was handled.
//   - A message that is never acked is, for a replayable source, delivered
//     again after a restart. Ack functions tolerate being called twice.
//
// A message is handed on, not lent: whoever passes it on leaves it
// alone, and whoever gets it may keep it; see [Message].
//
// # Errors
//
// An error returned by Recv, Handle or Send is fatal to the Processor: Run
// stops every loop and returns the first error, wrapped as "source: …",
// "handler: …" or "destination: …". Connectors retry what can be retried
// themselves, close to where it happens; see [Retryable].
//
// The end of a finite source is io.EOF from Recv: the loop that sees it
// stops cleanly, and Run returns nil once every loop has stopped.
//
// This package imports only the standard library.
package sluice
