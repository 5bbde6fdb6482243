// Package store holds what the store destinations (clickhouse,
// elasticsearch, gelf, loki, splunk) share: the batch and the Run that
// starts their client, the options every one takes, the dead-letter hand
// off, the TLS block, and the HTTP plumbing (client, Retry-After, errors
// that never show a secret, gzip bodies).
package store

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/event"
)

// Options are what a store's New takes besides its Config.
type Options struct {
	// Log never receives a secret or an event. Default: discard.
	Log *slog.Logger
	// DeadLetter takes what the store refuses for good. Default nil.
	DeadLetter sluice.Destination[event.Event]
	// Hooks are the metrics hooks. Default: none.
	Hooks Hooks
}

// Option sets one of the Options.
type Option func(*Options)

// WithLogger sets Options.Log.
func WithLogger(l *slog.Logger) Option { return func(o *Options) { o.Log = l } }

// WithDeadLetter sets Options.DeadLetter.
func WithDeadLetter(d sluice.Destination[event.Event]) Option {
	return func(o *Options) { o.DeadLetter = d }
}

// WithHooks sets Options.Hooks.
func WithHooks(h Hooks) Option { return func(o *Options) { o.Hooks = h } }

// Hooks are called as a store writes, for metrics. Nil fields are
// skipped. They are called from the flush goroutines and must be safe
// for concurrent use.
type Hooks struct {
	// Written is called once the store confirmed a write, with the
	// events it took, the bytes sent and how long it took.
	Written func(events, bytes int, d time.Duration)
	// Rejected is called with the number of events a store that sets
	// refused ones aside itself (clickhouse, loki) handed to the dead
	// letter, once the dead letter acked them.
	Rejected func(n int)
	// Failed is called with the cause of each failure; each store's
	// package doc lists its causes.
	Failed func(cause string)
}

// Apply returns the Options that opts set, with a discarding logger if
// none is set.
func Apply(opts []Option) Options {
	var o Options
	for _, opt := range opts {
		opt(&o)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Destination is the batch of a store destination and its Run: Run does
// the store's start-up work inside the batch (Sends are buffered
// meanwhile), then flushes batches until ctx is done.
type Destination struct {
	*batch.Destination[event.Event]
	name    string
	start   func(context.Context) (stop func(), err error)
	running atomic.Bool
}

// New returns the batch that flushes with flush, each event counting as
// size(event) bytes, its failed batches going to o's dead letter. name
// starts every error. start, called by Run, builds the client; the stop
// it returns, if not nil, is called when Run returns.
func New(name string, c batch.Config, flush batch.FlushFunc[event.Event], o Options,
	size func(*sluice.Message[event.Event]) int, start func(context.Context) (stop func(), err error)) (*Destination, error) {
	d, err := batch.New(c, flush,
		batch.WithLogger[event.Event](o.Log),
		batch.WithDeadLetter(o.DeadLetter),
		batch.WithSize(size))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Destination{Destination: d, name: name, start: start}, nil
}

// NewEncoded is New for a store without a dead letter, whose batches
// hold its encodings (see [batch.NewEncoded]): Send encodes each event
// with enc into the batch, and a flush hands f the encodings back to
// back. Nothing of an event is kept once it is encoded, so the batch
// copies no message, and Config.Bytes counts encoded bytes. A dead
// letter takes events, which an encoded batch no longer has: with one,
// use New.
func NewEncoded(name string, c batch.Config, enc batch.Encoder[event.Event], f batch.BytesFlusher, o Options,
	start func(context.Context) (stop func(), err error)) (*Destination, error) {
	if o.DeadLetter != nil {
		return nil, fmt.Errorf("%s: a dead letter needs the events: use New", name)
	}
	d, err := batch.NewEncoded(c, enc, f, batch.WithLogger[event.Event](o.Log))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Destination{Destination: d, name: name, start: start}, nil
}

// RawSize counts an event as its raw bytes plus 256, the size most
// stores' batch.bytes is documented with.
func RawSize(m *sluice.Message[event.Event]) int { return len(m.Value.Raw) + 256 }

// Run calls start, then flushes batches until ctx is done, as
// [batch.Destination.RunAfter] does. A second call returns
// [sluice.ErrAlreadyRunning].
func (d *Destination) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return fmt.Errorf("%s: %w", d.name, sluice.ErrAlreadyRunning)
	}
	var stop func()
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	return d.Destination.RunAfter(ctx, func(ctx context.Context) (err error) {
		stop, err = d.start(ctx)
		return err
	})
}
