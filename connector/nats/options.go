package nats

import (
	"log/slog"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// Option configures a Source or a Destination with what cannot be
// serialised.
type Option func(*options)

type options struct {
	log        *slog.Logger
	hooks      Hooks
	deadLetter sluice.Destination[event.Event]
}

// Hooks are called as messages move; each may be nil. They must be safe
// for concurrent use and must not block.
type Hooks struct {
	// Dropped: n messages were not passed on, for cause: "oversize".
	Dropped func(cause string, n int)
	// Failed: an error of cause "connect", "connection", "async",
	// "ack" or "publish".
	Failed func(cause string)
	// Published: a batch of n messages is done, d after it started
	// (destination): the stream acknowledged those it published, bytes in
	// total, and those over maxMessageBytes were rejected.
	Published func(n, bytes int, d time.Duration)
}

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithHooks sets the hooks.
func WithHooks(h Hooks) Option { return func(o *options) { o.hooks = h } }

// WithDeadLetter sets where a destination sends the events it cannot
// publish (over maxMessageBytes) or that failed permanently; the
// destination's ack then waits for the dead letter's. A Source ignores it.
func WithDeadLetter(d sluice.Destination[event.Event]) Option {
	return func(o *options) { o.deadLetter = d }
}

func newOptions(opts []Option) options {
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	return o
}

func (o *options) dropped(cause string, n int) {
	if o.hooks.Dropped != nil {
		o.hooks.Dropped(cause, n)
	}
}

func (o *options) failed(cause string) {
	if o.hooks.Failed != nil {
		o.hooks.Failed(cause)
	}
}
