package otlp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/event"
)

// Destination sends events as OTLP logs; the package doc says how they
// are mapped and when they are acked. It is a [sluice.Runner]: requests
// are sent while Run runs. Send is safe for concurrent use.
type Destination struct {
	*batch.Destination[event.Event]
	s       *sender
	running atomic.Bool
}

// DestinationOption configures a Destination with what cannot be
// serialised.
type DestinationOption func(*destOptions)

type destOptions struct {
	log        *slog.Logger
	deadLetter sluice.Destination[event.Event]
	hooks      Hooks
}

// Hooks are called as requests are sent, for metrics. Nil fields are
// skipped; they must be safe for concurrent use.
type Hooks struct {
	// Sent is called after an OK, with the records, the request's bytes
	// (before compression) and how long mapping and sending took.
	Sent func(records, bytes int, d time.Duration)
	// Failed is called after each failed request with its cause: "grpc_"
	// and the status code name (such as "grpc_unavailable"), "http_<status>",
	// "network" or "partial_success".
	Failed func(cause string)
}

// WithDestinationLogger sets the logger for retries, rejections and fatal
// failures. It never receives a header value. Default: discard.
func WithDestinationLogger(l *slog.Logger) DestinationOption {
	return func(o *destOptions) { o.log = l }
}

// WithDeadLetter sends batches that fail permanently, and batches of
// which the receiver rejected records (partial success), to d. The events'
// acks are called when d acks. Default, or nil: no dead letter.
func WithDeadLetter(d sluice.Destination[event.Event]) DestinationOption {
	return func(o *destOptions) { o.deadLetter = d }
}

// WithHooks sets the metrics hooks. Default: none.
func WithHooks(h Hooks) DestinationOption { return func(o *destOptions) { o.hooks = h } }

// NewDestination returns a Destination for c. Zero fields of c take the
// defaults of [DefaultDestinationConfig]. It checks c and does no I/O: the
// connection is made by Run.
func NewDestination(c DestinationConfig, opts ...DestinationOption) (*Destination, error) {
	def := DefaultDestinationConfig()
	if c.Protocol == "" {
		c.Protocol = def.Protocol
	}
	if c.Compression == "" {
		c.Compression = def.Compression
	}
	if c.Timeout == 0 {
		c.Timeout = def.Timeout
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = def.MaxRequestBytes
	}
	if c.Batch == (batch.Config{}) {
		c.Batch = def.Batch
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("otlp destination: %w", err)
	}
	o := destOptions{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	s := &sender{cfg: c, log: o.log, hooks: o.hooks, deadLetter: o.deadLetter != nil}
	bo := []batch.Option[event.Event]{
		batch.WithLogger[event.Event](o.log),
		batch.WithSize(func(m *sluice.Message[event.Event]) int { return len(m.Value.Raw) + 64 }),
	}
	if o.deadLetter != nil {
		bo = append(bo, batch.WithDeadLetter(o.deadLetter))
	}
	d, err := batch.New(c.Batch, batch.FlushFunc[event.Event](s.flush), bo...)
	if err != nil {
		return nil, fmt.Errorf("otlp destination: %w", err)
	}
	return &Destination{Destination: d, s: s}, nil
}

// Run connects, sends batches until ctx is done and what is held is
// flushed (see [batch.Destination.Run]), then closes the connection. If
// the client cannot be built (a TLS file that does not load), the events
// sent so far are neither sent nor acked, and Run's error says how many.
// A second call returns [sluice.ErrAlreadyRunning].
func (d *Destination) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return fmt.Errorf("otlp destination: %w", sluice.ErrAlreadyRunning)
	}
	defer d.s.close()
	return d.Destination.RunAfter(ctx, func(context.Context) error { return d.s.start() })
}

// sender sends one batch per flush.
type sender struct {
	cfg        DestinationConfig
	log        *slog.Logger
	hooks      Hooks
	deadLetter bool
	transport  transport // set by start
}

// transport sends one encoded request and returns the receiver's partial
// success, or an error marked retryable (and with a wait) where OTLP says
// to retry.
type transport interface {
	export(ctx context.Context, logs plog.Logs) (rejected int64, msg string, err error)
	close()
}

func (s *sender) start() error {
	var err error
	if s.cfg.Protocol == "http" {
		s.transport, err = newHTTPTransport(s.cfg)
	} else {
		s.transport, err = newGRPCTransport(s.cfg)
	}
	if err != nil {
		return fmt.Errorf("otlp destination: %w", err)
	}
	return nil
}

func (s *sender) close() {
	if s.transport != nil {
		s.transport.close()
	}
}

var protoSizer plog.ProtoMarshaler

// flush sends msgs, in as many requests as keep each under
// MaxRequestBytes. A retry after one of them failed sends all again.
func (s *sender) flush(ctx context.Context, msgs []sluice.Message[event.Event]) error {
	start := time.Now()
	logs := toLogs(msgs)
	size := protoSizer.LogsSize(logs)
	if len(msgs) > 1 && size > s.cfg.MaxRequestBytes {
		h := len(msgs) / 2
		if err := s.flush(ctx, msgs[:h]); err != nil {
			return err
		}
		return s.flush(ctx, msgs[h:])
	}
	rejected, msg, err := s.transport.export(ctx, logs)
	if err != nil {
		if se, ok := errors.AsType[*sendError](err); ok {
			s.failed(se.cause)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("otlp destination: %w", ctx.Err())
		}
		return err
	}
	if rejected > 0 {
		s.failed("partial_success")
		err := fmt.Errorf("otlp destination: the receiver rejected %d of %d records: %s", rejected, len(msgs), msg)
		if s.deadLetter {
			return err // permanent: to the dead letter
		}
		s.log.Warn("records rejected by the receiver; not resent (OTLP partial success)", "rejected", rejected,
			"records", len(msgs), "reason", msg)
	}
	if s.hooks.Sent != nil {
		s.hooks.Sent(len(msgs), size, time.Since(start))
	}
	return nil
}

func (s *sender) failed(cause string) {
	if s.hooks.Failed != nil {
		s.hooks.Failed(cause)
	}
}
