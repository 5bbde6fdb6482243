package nats

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/retry"
)

// Destination publishes each event to one subject with JetStream: a
// batch's publishes are asynchronous, in flight together, and its ack
// waits for the stream's PubAck for every one. A batch that fails or is
// not acknowledged within AckTimeout is published again, whole, after a
// back-off: at least once.
//
// At start, Run checks that a stream captures the subject: a subject no
// stream captures is an error that names it, not a silent drop. Send is
// the batch package's: safe for concurrent use, blocking while the
// batches in flight are at their limit.
type Destination struct {
	c       DestinationConfig
	name    string
	opts    options
	json    event.JSONOptions
	batch   *batch.Destination[event.Event]
	running atomic.Bool
	// js and limit belong to the Run in progress; ready is closed once the
	// stream is checked. limit is the largest payload published:
	// MaxMessageBytes lowered to the server's max_payload.
	nc    atomic.Pointer[natsgo.Conn]
	js    atomic.Pointer[jetstream.JetStream]
	limit atomic.Int64
	ready chan struct{}
}

// NewDestination returns a Destination for c, which it validates; name is
// the destination's name, in the connection's name. It does no I/O.
func NewDestination(c DestinationConfig, name string, opts ...Option) (*Destination, error) {
	if err := config.Required("nats destination", config.Field{Path: "url", Empty: c.URL == ""}, config.Field{Path: "subject", Empty: c.Subject == ""}); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("nats destination: %w", err)
	}
	d := &Destination{c: c, name: name, opts: newOptions(opts), ready: make(chan struct{})}
	d.json, _ = event.JSONRaw(c.JSONRaw)
	d.limit.Store(int64(c.MaxMessageBytes))
	b, err := batch.New(c.Batch, batch.FlushFunc[event.Event](d.flush),
		batch.WithLogger[event.Event](d.opts.log), batch.WithDeadLetter(d.opts.deadLetter))
	if err != nil {
		return nil, fmt.Errorf("nats destination: %w", err)
	}
	d.batch = b
	return d, nil
}

// Send queues msgs for publishing; ack is called once the broker has
// acknowledged every one, and every event over maxMessageBytes was
// handed to the dead letter and acked by it (or, without one, counted as
// dropped, cause "oversize", and logged).
func (d *Destination) Send(ctx context.Context, ack func(), msgs ...sluice.Message[event.Event]) error {
	return d.batch.Send(ctx, ack, msgs...)
}

// reject disposes of the events over the size limit of a batch whose
// other events were published: to the dead letter, waiting for its ack,
// or counted and logged.
func (d *Destination) reject(ctx context.Context, big []sluice.Message[event.Event], limit int) error {
	d.opts.log.Warn("events over maxMessageBytes not published", "events", len(big), "maxMessageBytes", limit,
		"deadLetter", d.opts.deadLetter != nil)
	if d.opts.deadLetter == nil {
		d.opts.dropped("oversize", len(big))
		return nil
	}
	for i := range big {
		big[i].Attributes = big[i].Attributes.With("error", "nats: payload over maxMessageBytes")
	}
	acked := make(chan struct{})
	if err := d.opts.deadLetter.Send(ctx, sync.OnceFunc(func() { close(acked) }), big...); err != nil {
		return fmt.Errorf("nats destination: dead letter: %w", err)
	}
	select {
	case <-acked:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("nats destination: dead letter: %w", ctx.Err())
	}
}

// Run connects (retrying while no server can be reached), checks that a
// stream captures the subject, and flushes batches until ctx is done,
// then for batch.stopTimeout, still connecting if it has not yet. It
// returns an error for refused credentials, a subject no stream
// captures, JetStream not enabled, or a batch that failed permanently
// without a dead letter. A second call returns [sluice.ErrAlreadyRunning].
func (d *Destination) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return sluice.ErrAlreadyRunning
	}
	log := d.opts.log
	cn := d.c.conn()
	opts, err := cn.natsOptions("sluiced "+d.name, log, d.opts.failed)
	if err != nil {
		return fmt.Errorf("nats destination: %w", err)
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	// Connecting goes on after ctx is done, until the batches are flushed:
	// a stopping Run flushes what it holds for stopTimeout, and those
	// flushes wait for the connection and the stream's check.
	connCtx, stopConnecting := context.WithCancel(context.WithoutCancel(ctx))
	var nc atomic.Pointer[natsgo.Conn]
	var wg sync.WaitGroup
	wg.Go(func() {
		c, err := cn.connect(connCtx, opts, log, d.opts.failed)
		if err == nil {
			nc.Store(c)
			d.nc.Store(c)
			err = d.setup(connCtx, c)
		}
		if err != nil {
			if runCtx.Err() == nil {
				cancel(err)
			}
			return
		}
		close(d.ready)
	})
	err = d.batch.Run(runCtx)
	cancel(nil)
	stopConnecting()
	wg.Wait()
	if c := nc.Load(); c != nil {
		c.Close()
	}
	if cause := context.Cause(runCtx); cause != nil && !errors.Is(cause, context.Canceled) {
		return fmt.Errorf("nats destination: %w", cause)
	}
	if err != nil {
		return fmt.Errorf("nats destination: %w", err)
	}
	return nil
}

// setup makes the JetStream context and checks that a stream captures
// the subject.
func (d *Destination) setup(ctx context.Context, nc *natsgo.Conn) error {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(max(4000, 2*d.c.Batch.Count)))
	if err != nil {
		return err
	}
	if mp := nc.MaxPayload(); mp > 0 && mp < d.limit.Load() {
		d.limit.Store(mp)
	}
	return retry.Do(ctx, retry.Policy{}, isRetryable, func(ctx context.Context) error {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		stream, err := js.StreamNameBySubject(actx, d.c.Subject)
		switch {
		case err == nil:
			d.js.Store(&js)
			d.opts.log.Info("publishing", "subject", d.c.Subject, "stream", stream)
			return nil
		case errors.Is(err, jetstream.ErrStreamNotFound):
			return refused{fmt.Errorf("no stream captures subject %q on %s (check subject, or add it to a stream's subjects)", d.c.Subject, redact(d.c.URL))}
		case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
			return refused{fmt.Errorf("JetStream is not enabled on %s (run nats-server with -js)", redact(d.c.URL))}
		}
		d.opts.log.Warn("cannot look up the stream of the subject; retrying", "subject", d.c.Subject, "err", err)
		return err
	})
}

// flush publishes msgs and waits for every PubAck, then rejects those
// over the size limit. It waits for Run's
// setup; a publish that fails, or is not acknowledged within AckTimeout,
// fails the batch with a retryable error that names the subject.
func (d *Destination) flush(ctx context.Context, msgs []sluice.Message[event.Event]) error {
	start := time.Now()
	select {
	case <-d.ready:
	case <-ctx.Done():
		return fmt.Errorf("nats destination: waiting for the server: %w", ctx.Err())
	}
	js := *d.js.Load()
	limit := int(d.limit.Load())
	futs := make([]jetstream.PubAckFuture, 0, len(msgs))
	var big []sluice.Message[event.Event]
	bytes := 0
	for i := range msgs {
		payload := msgs[i].Value.Raw
		if d.c.Format == "json" {
			payload = msgs[i].Value.AppendJSONWith(nil, d.json)
		}
		if len(payload) > limit {
			big = append(big, msgs[i])
			continue
		}
		bytes += len(payload)
		f, err := js.PublishAsync(d.c.Subject, payload)
		if err != nil {
			d.opts.failed("publish")
			return sluice.Retryable(fmt.Errorf("nats destination: publish to %q: %w", d.c.Subject, err))
		}
		futs = append(futs, f)
	}
	timeout := time.NewTimer(d.c.AckTimeout)
	defer timeout.Stop()
	for _, f := range futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			d.opts.failed("publish")
			if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, natsgo.ErrNoResponders) {
				err = fmt.Errorf("no stream captures subject %q (or its stream is unavailable): %w", d.c.Subject, err)
			}
			return sluice.Retryable(fmt.Errorf("nats destination: publish to %q: %w", d.c.Subject, err))
		case <-timeout.C:
			d.opts.failed("publish")
			return sluice.Retryable(fmt.Errorf("nats destination: publish to %q: no PubAck within ackTimeout %v", d.c.Subject, d.c.AckTimeout))
		case <-ctx.Done():
			return fmt.Errorf("nats destination: publish: %w", ctx.Err())
		}
	}
	if len(big) > 0 {
		if err := d.reject(ctx, big, limit); err != nil {
			return err
		}
	}
	if h := d.opts.hooks.Published; h != nil {
		h(len(msgs), bytes, time.Since(start))
	}
	return nil
}

// NotReady says why the destination cannot publish now, or returns "".
func (d *Destination) NotReady() string {
	nc := d.nc.Load()
	if nc == nil || nc.Status() != natsgo.CONNECTED {
		return "not connected to " + redact(d.c.URL)
	}
	return ""
}

var (
	_ sluice.Destination[event.Event] = (*Destination)(nil)
	_ sluice.Runner                   = (*Destination)(nil)
)
