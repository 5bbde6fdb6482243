package sluice

import "context"

// Destination is where messages go.
//
// Send writes msgs and calls ack once, and only once, every message of the
// call is durably written: in a file that was synced, an object that was
// stored, a request that was answered with success. "Durably" is the
// destination's promise, documented by each destination. Send may return
// before the write completes (a batching destination does) and call ack
// later, from any goroutine.
//
//   - If Send returns an error, ack has not been called and never will be.
//     The error is fatal to the caller; a destination retries what it can
//     retry itself before returning one.
//   - When ctx is done, Send returns promptly with an error for which
//     errors.Is(err, ctx.Err()) holds; with an already-cancelled ctx it
//     returns at once and writes nothing.
//   - Send with no messages returns nil and acks.
//   - ack may be nil; call it through [Ack].
//   - Send must not modify msgs or keep the slice after it returns; it may
//     keep the messages, and must not change them (see [Message]).
//
// The Processor calls Send from [Parallelism] goroutines at once; a
// Destination states in its doc comment whether Send is safe for concurrent
// use.
type Destination[T any] interface {
	Send(ctx context.Context, ack func(), msgs ...Message[T]) error
}

// DestinationFunc adapts an ordinary function to a [Destination], the way
// http.HandlerFunc adapts a function to an http.Handler.
type DestinationFunc[T any] func(ctx context.Context, ack func(), msgs ...Message[T]) error

// Send calls f(ctx, ack, msgs...).
func (f DestinationFunc[T]) Send(ctx context.Context, ack func(), msgs ...Message[T]) error {
	return f(ctx, ack, msgs...)
}
