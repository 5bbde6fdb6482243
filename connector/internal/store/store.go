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

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/event"
)

// Options are what a store's New takes besides its Config: the logger,
// the dead letter, and the store's own metrics hooks H.
type Options[H any] struct {
	// Log never receives a secret or an event. Default: discard.
	Log *slog.Logger
	// DeadLetter takes what the store refuses for good. Default nil.
	DeadLetter sluice.Destination[event.Event]
	// Hooks are the store's metrics hooks.
	Hooks H
}

// Apply returns the Options that opts set, with a discarding logger if
// none is set.
func Apply[H any, O ~func(*Options[H])](opts []O) Options[H] {
	var o Options[H]
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
func New[H any](name string, c batch.Config, flush batch.FlushFunc[event.Event], o Options[H],
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
