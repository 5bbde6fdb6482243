package sluice

import "context"

// Source is where messages come from.
//
// Recv blocks until a message is available, the source fails, or ctx is
// done. It returns either a message with a non-nil ack function, or an
// error:
//
//   - When ctx is done, Recv returns an error for which
//     errors.Is(err, ctx.Err()) holds, promptly; with an already-cancelled
//     ctx it returns at once without consuming a message.
//   - io.EOF means the source is exhausted: no message will follow, and
//     every later call returns io.EOF too.
//   - Any other error is fatal to the caller. A source retries what it can
//     retry itself before returning an error.
//
// The message is the caller's: the source must not change it, or reuse
// memory its Value shares, after Recv returns (see [Message]).
//
// The ack function reports that the message was delivered durably. It is
// safe to call from any goroutine, and calling it more than once has no
// further effect. A message that is never acked is, for a source that
// declares itself durable, delivered again after a restart.
//
// The Processor calls Recv from [Parallelism] goroutines at once; a Source
// states in its doc comment whether Recv is safe for concurrent use.
type Source[T any] interface {
	Recv(ctx context.Context) (Message[T], func(), error)
}

// BatchSource is a [Source] that can also hand over several messages in
// one call. It is an optional ability: when a Processor's handler is
// [Pipe] (and no Recv hook is set), its loops take up to [RecvBatchSize]
// messages at a time with RecvBatch and send them to the destination in
// one Send, whose ack calls each message's ack (or, if the destination is
// a [BatchDestination], in one SendBatch with the acks as they are).
// Handing events between
// goroutines one by one was most of the cost of a pass-through pipeline
// (the syslog source to a file: −31% CPU measured).
//
// RecvBatch blocks as Recv does until at least one message is available,
// then fills msgs and acks with up to len(msgs) messages, in order, and
// returns how many (at least 1); it does not wait for more. The slices
// are the caller's; the messages are handed on as Recv's are. len(acks) is
// at least len(msgs). Errors, io.EOF and cancellation are as for Recv,
// with n = 0. RecvBatch is safe for concurrent use if Recv is.
type BatchSource[T any] interface {
	Source[T]
	RecvBatch(ctx context.Context, msgs []Message[T], acks []func()) (n int, err error)
}

// RecvBatchSize is how many messages a Processor's loop asks a
// [BatchSource] for at a time: the len(msgs) of its RecvBatch calls.
const RecvBatchSize = 256

// BatchSize is the former name of [RecvBatchSize], kept so that existing
// code compiles.
const BatchSize = RecvBatchSize

// SourceFunc adapts an ordinary function to a [Source], the way
// http.HandlerFunc adapts a function to an http.Handler.
type SourceFunc[T any] func(ctx context.Context) (Message[T], func(), error)

// Recv calls f(ctx).
func (f SourceFunc[T]) Recv(ctx context.Context) (Message[T], func(), error) { return f(ctx) }

// Runner is implemented by sources and destinations that own goroutines or
// connections for their whole life, such as a listener or a batcher's
// flush workers. Run blocks until ctx is done or the component fails; it
// returns nil after a clean stop, and only after every goroutine it started
// has stopped.
//
// A [Processor] runs the Runner of its Source and of its Destination for as
// long as it runs. Where one component is shared by several processors, run
// it once yourself and give the processors a wrapper without Run, such as
// [SourceFunc](s.Recv).
type Runner interface {
	Run(ctx context.Context) error
}
