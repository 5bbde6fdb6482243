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

// BatchDestination is a [Destination] that can also take several messages
// each with its own ack. It is an optional ability, the counterpart of
// [BatchSource]: when a Processor's handler is [Pipe], its source is a
// BatchSource and its destination a BatchDestination (and no Recv hook is
// set), its loops hand each batch from RecvBatch to SendBatch with the
// acks the source gave, instead of joining them into one ack for Send.
// That costs no allocation per batch or per message.
//
// SendBatch writes msgs, in order, and calls acks[i] once msgs[i] is
// durably written, as Send calls its ack; it may call them all when the
// whole batch is written. len(acks) == len(msgs), and acks[i] may be nil.
// The contract is otherwise Send's:
//
//   - If SendBatch returns an error, it never calls the ack of a message
//     it did not write. (It may have written some, and acks those: a
//     pass-through queue delivers what it queued before ctx was done.)
//   - ctx, concurrency and ownership are as for Send: SendBatch must not
//     modify msgs or acks, nor keep either slice after it returns.
//   - With no messages, SendBatch returns nil.
type BatchDestination[T any] interface {
	Destination[T]
	SendBatch(ctx context.Context, msgs []Message[T], acks []func()) error
}
