package sluice

import (
	"context"
	"errors"
	"log/slog"
)

// Option configures a [Processor].
type Option func(*options)

type options struct {
	parallelism int
	logger      *slog.Logger
	hooks       Hooks
	errs        []error
}

// Parallelism sets how many Recv → Handle → Send loops run at once.
// The default is 1. n < 1 makes [New] return an error.
func Parallelism(n int) Option {
	return func(o *options) {
		if n < 1 {
			o.errs = append(o.errs, errors.New("parallelism must be at least 1"))
			return
		}
		o.parallelism = n
	}
}

// WithLogger sets the logger the Processor reports its start, stop and
// failure to. The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// Hooks observe a Processor, for metrics and tracing. Each field may be
// nil, and a nil hook costs one comparison per message. A hook is called
// before its stage with the stage's context and returns the context the
// stage runs with (for a span) and a function called with the outcome.
// Hooks are called from every loop at once and must be safe for concurrent
// use.
type Hooks struct {
	// Recv is called before each Recv; done gets Recv's error.
	Recv func(ctx context.Context) (context.Context, func(err error))
	// Handle is called before each Handle; done gets the number of
	// messages returned and the error.
	Handle func(ctx context.Context) (context.Context, func(out int, err error))
	// Send is called before each Send of n messages; done gets its error.
	Send func(ctx context.Context, n int) (context.Context, func(err error))
}

// WithHooks installs h. The default is no hooks.
func WithHooks(h Hooks) Option {
	return func(o *options) { o.hooks = h }
}
