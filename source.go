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
