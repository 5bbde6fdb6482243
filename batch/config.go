package batch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/retry"
)

// Flusher writes one batch of messages somewhere durable.
//
// Flush returns nil once every message of msgs is written; any error means
// none of them counts as written. An error marked with [sluice.Retryable]
// (or [retry.After]) is retried with back-off; any other error is
// permanent. Flush must return promptly when ctx is done; once Run is
// stopping, ctx carries the Config.StopTimeout deadline.
//
// Flush must not modify msgs or keep the slice after it returns: the
// [Destination] reuses it for a later batch. It may keep the Message
// values. Flush is called from up to Config.Parallelism goroutines at
// once, so it must be safe for concurrent use when Parallelism is above 1.
type Flusher[T any] interface {
	Flush(ctx context.Context, msgs []sluice.Message[T]) error
}

// FlushFunc adapts an ordinary function to a [Flusher], the way
// http.HandlerFunc adapts a function to an http.Handler.
type FlushFunc[T any] func(ctx context.Context, msgs []sluice.Message[T]) error

// Flush calls f(ctx, msgs).
func (f FlushFunc[T]) Flush(ctx context.Context, msgs []sluice.Message[T]) error { return f(ctx, msgs) }

// Defaults for the zero fields of a [Config].
const (
	DefaultCount       = 100
	DefaultAge         = time.Second
	DefaultParallelism = 2
	DefaultStopTimeout = 5 * time.Second
)

// Config holds the serialisable settings of a [Destination]. Zero fields
// take their defaults; negative ones are an error.
type Config struct {
	// Count is the number of messages at which a batch is flushed.
	// Default 100.
	Count int `json:"count"`
	// Bytes is the size in bytes at which a batch is flushed, as the
	// destination measures its messages: what it writes, or an estimate
	// (see [WithSize] and [NewEncoded]). A batch never holds more than Bytes, except a
	// single message larger than Bytes, which is a batch by itself.
	// Default 0: no limit.
	Bytes int `json:"bytes"`
	// Age is how long after its first message a batch that is not full is
	// flushed anyway. Default 1s.
	Age time.Duration `json:"age"`
	// Parallelism is the number of flushes in flight at once. Default 2.
	Parallelism int `json:"parallelism"`
	// Eager cuts the batch being filled whenever a flush slot is free, so
	// that a batch grows only while the flushes are busy (group commit):
	// low latency at low rates, large batches at high rates. Count and
	// Bytes still bound a batch; Age never cuts one, since a batch is cut as
	// soon as a slot is free, which is also the earliest Age could. Default
	// false: batches wait for Count, Bytes or Age.
	Eager bool `json:"eager"`
	// StopTimeout is how long Run, once its ctx is done, goes on flushing
	// the batches it holds. Default 5s.
	StopTimeout time.Duration `json:"stopTimeout"`
	// Retry is the back-off for flushes that fail with a retryable error.
	// Default: the zero [retry.Policy], which retries without limit.
	Retry retry.Policy `json:"retry"`
}

// Validate reports fields that are out of range.
func (c Config) Validate() error {
	var errs []error
	if c.Count < 0 {
		errs = append(errs, fmt.Errorf("count: want 0 or more, got %d", c.Count))
	}
	if c.Bytes < 0 {
		errs = append(errs, fmt.Errorf("bytes: want 0 or more, got %d", c.Bytes))
	}
	if c.Age < 0 {
		errs = append(errs, fmt.Errorf("age: want 0 or more, got %v", c.Age))
	}
	if c.Parallelism < 0 {
		errs = append(errs, fmt.Errorf("parallelism: want 0 or more, got %d", c.Parallelism))
	}
	if c.StopTimeout < 0 {
		errs = append(errs, fmt.Errorf("stopTimeout: want 0 or more, got %v", c.StopTimeout))
	}
	errs = append(errs, retry.Under("retry", c.Retry.Validate())...)
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Count == 0 {
		c.Count = DefaultCount
	}
	if c.Age == 0 {
		c.Age = DefaultAge
	}
	if c.Parallelism == 0 {
		c.Parallelism = DefaultParallelism
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	return c
}

// Option configures a [Destination] with what cannot be serialised.
type Option[T any] func(*options[T])

type options[T any] struct {
	size       func(*sluice.Message[T]) int
	deadLetter sluice.Destination[T]
	retryable  func(error) bool
	logger     *slog.Logger
}

// WithSize sets how many bytes a message counts for against
// Config.Bytes; it is called only when Bytes is set, under the
// destination's lock, and must be cheap and must not keep m (a pointer,
// so that a large T is not copied per message). A negative size counts
// as 0. The default is len(Value) when T is []byte or string; for any
// other T, [New] returns an error if Bytes is set without WithSize. A nil
// f means the default.
func WithSize[T any](f func(m *sluice.Message[T]) int) Option[T] {
	return func(o *options[T]) { o.size = f }
}

// WithDeadLetter sends batches that failed permanently (or ran out of
// retries) to d instead of failing Run. Each message goes with two more
// attributes: "error", the flush error's text, and "batch.attempts", how
// many times the flush was tried. The messages' acks are called when d
// acks. If d is a [sluice.Runner], run it yourself. The default, or a nil
// d, is no dead letter: such a failure is fatal.
func WithDeadLetter[T any](d sluice.Destination[T]) Option[T] {
	return func(o *options[T]) { o.deadLetter = d }
}

// WithRetryable sets which flush errors are retried. The default, or a nil
// f, is [sluice.IsRetryable].
func WithRetryable[T any](f func(error) bool) Option[T] {
	return func(o *options[T]) { o.retryable = f }
}

// WithLogger sets the logger that reports retries (Warn), batches sent to
// the dead letter (Warn), messages left unflushed at stop (Warn) and fatal
// failures (Error). It never logs message contents. The default, or a nil
// l, discards everything.
func WithLogger[T any](l *slog.Logger) Option[T] {
	return func(o *options[T]) { o.logger = l }
}

// defaultSize returns len(Value) for []byte and string values, or nil.
// It takes a pointer so that reading the length allocates nothing.
func defaultSize[T any]() func(*sluice.Message[T]) int {
	switch any(new(T)).(type) {
	case *[]byte:
		return func(m *sluice.Message[T]) int { return len(*any(&m.Value).(*[]byte)) }
	case *string:
		return func(m *sluice.Message[T]) int { return len(*any(&m.Value).(*string)) }
	}
	return nil
}
