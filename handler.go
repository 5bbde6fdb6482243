package sluice

import "context"

// Handler turns one message into zero or more messages.
//
// Returning zero messages and no error means the message is done: the
// Processor acks it. Returning an error is fatal to the Processor, and the
// message is not acked. Handlers never call acks.
//
// Handle is called from [Parallelism] goroutines at once, so it must be safe
// for concurrent use when Parallelism is above 1. It may keep msg or
// return it; it must not change the memory msg's Value shares, such as
// the bytes of a []byte (see [Message]).
type Handler[T1, T2 any] interface {
	Handle(ctx context.Context, msg Message[T1]) ([]Message[T2], error)
}

// HandlerFunc adapts an ordinary function to a [Handler], the way
// http.HandlerFunc adapts a function to an http.Handler.
type HandlerFunc[T1, T2 any] func(ctx context.Context, msg Message[T1]) ([]Message[T2], error)

// Handle calls f(ctx, msg).
func (f HandlerFunc[T1, T2]) Handle(ctx context.Context, msg Message[T1]) ([]Message[T2], error) {
	return f(ctx, msg)
}

// Pipe returns a Handler that passes each message through unchanged.
// A Processor recognises it and hands messages to the destination without
// calling it or allocating.
func Pipe[T any]() Handler[T, T] { return pipe[T]{} }

type pipe[T any] struct{}

func (pipe[T]) Handle(_ context.Context, msg Message[T]) ([]Message[T], error) {
	return []Message[T]{msg}, nil
}

// BatchHandler is a [Handler] that also handles many messages in one call,
// for handlers whose cost is mostly per call, such as a WebAssembly module.
// A caller that holds a batch (the sluiced daemon's routes do) calls
// HandleBatch once instead of Handle for each message; the contract is
// Handle's: the result replaces the batch, in order, and an error is fatal.
// HandleBatch must not keep msgs (the slice, not the messages).
type BatchHandler[T1, T2 any] interface {
	Handler[T1, T2]
	HandleBatch(ctx context.Context, msgs []Message[T1]) ([]Message[T2], error)
}
