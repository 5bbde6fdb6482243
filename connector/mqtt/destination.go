package mqtt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
)

// Destination publishes each event to one topic. A batch's publishes are
// in flight together, and its ack waits for the broker's acknowledgement
// of every one (PUBACK at QoS 1). A batch that fails or is not
// acknowledged within AckTimeout is published again, whole, after a
// back-off: at least once.
//
// Send is the batch package's: safe for concurrent use, and blocking
// while the batches in flight are at their limit. Run connects, retrying
// with back-off while the broker is down, and flushes batches; paho
// reconnects after a connection is lost.
type Destination struct {
	c       DestinationConfig
	opts    options
	json    event.JSONOptions
	batch   *batch.Destination[event.Event]
	running atomic.Bool
	// client and ready belong to the Run in progress; ready is closed once
	// the client first connected.
	client atomic.Pointer[paho.Client]
	ready  atomic.Pointer[chan struct{}]
}

// NewDestination returns a Destination for c, which it validates; name is
// the destination's name, used in the default client id. It does no I/O.
func NewDestination(c DestinationConfig, name string, opts ...Option) (*Destination, error) {
	if err := config.Required("mqtt destination", config.Field{Path: "broker", Empty: c.Broker == ""},
		config.Field{Path: "topic", Empty: c.Topic == ""}); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("mqtt destination: %w", err)
	}
	if c.ClientID == "" {
		c.ClientID = defaultClientID(name) + "-out" // not the id of a source of the same name
	}
	if _, err := c.conn().clientOptions(true); err != nil {
		return nil, fmt.Errorf("mqtt destination: %w", err)
	}
	d := &Destination{c: c, opts: newOptions(opts)}
	d.json, _ = event.JSONRaw(c.JSONRaw)
	b, err := batch.New(c.Batch, batch.FlushFunc[event.Event](d.flush),
		batch.WithLogger[event.Event](d.opts.log), batch.WithDeadLetter(d.opts.deadLetter))
	if err != nil {
		return nil, fmt.Errorf("mqtt destination: %w", err)
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
		big[i].Attributes = big[i].Attributes.With("error", "mqtt: payload over maxMessageBytes")
	}
	acked := make(chan struct{})
	if err := d.opts.deadLetter.Send(ctx, sync.OnceFunc(func() { close(acked) }), big...); err != nil {
		return fmt.Errorf("mqtt destination: dead letter: %w", err)
	}
	select {
	case <-acked:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mqtt destination: dead letter: %w", ctx.Err())
	}
}

// Run connects to the broker and flushes batches until ctx is done, then
// flushes what it holds for batch.stopTimeout, still connecting if it
// has not yet. It connects again, with back-off, whenever the connection
// is lost; the batches in flight then fail and are published again. It
// returns an error if the broker refuses the credentials or the client
// id, or if a batch fails permanently without a dead letter. A second
// call returns [sluice.ErrAlreadyRunning].
func (d *Destination) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return sluice.ErrAlreadyRunning
	}
	o, err := d.c.conn().clientOptions(true)
	if err != nil {
		return fmt.Errorf("mqtt destination: %w", err)
	}
	log := d.opts.log
	// Run reconnects itself, not paho: when paho reconnects, it resends
	// the publishes in flight and completes their tokens without an
	// error, as if the broker had acknowledged them, so a batch would be
	// acked that the broker never took. Without auto-reconnect, a lost
	// connection fails every publish in flight, and the batch is
	// published again, whole.
	o.SetAutoReconnect(false)
	lost := make(chan struct{}, 1)
	o.SetConnectionLostHandler(func(_ paho.Client, err error) {
		d.opts.failed("connection")
		log.Warn("connection to broker lost; reconnecting", "broker", redact(d.c.Broker), "err", err)
		select {
		case lost <- struct{}{}:
		default:
		}
	})
	client := paho.NewClient(o)
	ready := make(chan struct{})
	d.client.Store(&client)
	d.ready.Store(&ready)
	runCtx, cancel := context.WithCancelCause(ctx)
	// Connecting goes on after ctx is done, until the batches are flushed:
	// a stopping Run flushes what it holds for stopTimeout, and those
	// flushes wait for the connection.
	connCtx, stopConnecting := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() {
		for first := true; ; first = false {
			if err := connect(connCtx, client, d.c.Broker, log, d.opts.failed); err != nil {
				if runCtx.Err() == nil {
					cancel(err)
				}
				return
			}
			if first {
				close(ready)
			}
			select {
			case <-lost:
			case <-connCtx.Done():
				return
			}
		}
	})
	err = d.batch.Run(runCtx)
	cancel(nil)
	stopConnecting()
	wg.Wait()
	client.Disconnect(250)
	if cause := context.Cause(runCtx); cause != nil && !errors.Is(cause, context.Canceled) {
		return fmt.Errorf("mqtt destination: %w", cause)
	}
	if err != nil {
		return fmt.Errorf("mqtt destination: %w", err)
	}
	return nil
}

// flush publishes msgs and waits until the broker has acknowledged every
// one, then rejects those over the size limit. It waits for the first connection; a publish that fails, or is not
// acknowledged within AckTimeout, fails the batch with a retryable error.
func (d *Destination) flush(ctx context.Context, msgs []sluice.Message[event.Event]) error {
	start := time.Now()
	client, ready := d.client.Load(), d.ready.Load()
	if client == nil || ready == nil {
		return sluice.Retryable(errors.New("mqtt destination: not running"))
	}
	select {
	case <-*ready:
	case <-ctx.Done():
		return fmt.Errorf("mqtt destination: waiting for the broker: %w", ctx.Err())
	}
	toks := make([]paho.Token, 0, len(msgs))
	var big []sluice.Message[event.Event]
	bytes := 0
	for i := range msgs {
		payload := msgs[i].Value.Raw
		if d.c.Format == "json" {
			payload = msgs[i].Value.AppendJSONWith(nil, d.json)
		}
		if len(payload) > d.c.MaxMessageBytes {
			big = append(big, msgs[i])
			continue
		}
		bytes += len(payload)
		toks = append(toks, (*client).Publish(d.c.Topic, byte(d.c.QoS), d.c.Retained, payload))
	}
	timeout := time.NewTimer(d.c.AckTimeout)
	defer timeout.Stop()
	for _, tok := range toks {
		select {
		case <-tok.Done():
		case <-ctx.Done():
			return fmt.Errorf("mqtt destination: publish: %w", ctx.Err())
		case <-timeout.C:
			d.opts.failed("publish")
			return sluice.Retryable(fmt.Errorf("mqtt destination: publish: broker %s did not acknowledge within ackTimeout %v", redact(d.c.Broker), d.c.AckTimeout))
		}
		if err := tok.Error(); err != nil {
			d.opts.failed("publish")
			return sluice.Retryable(fmt.Errorf("mqtt destination: publish to %s: %w", redact(d.c.Broker), err))
		}
	}
	if len(big) > 0 {
		if err := d.reject(ctx, big, d.c.MaxMessageBytes); err != nil {
			return err
		}
	}
	if h := d.opts.hooks.Published; h != nil {
		h(len(msgs), bytes, time.Since(start))
	}
	return nil
}

// NotReady says why the destination cannot publish now, or returns ""
// when it is connected.
func (d *Destination) NotReady() string {
	c := d.client.Load()
	if c == nil || !(*c).IsConnectionOpen() {
		return "not connected to broker " + redact(d.c.Broker)
	}
	return ""
}

var (
	_ sluice.Destination[event.Event] = (*Destination)(nil)
	_ sluice.Runner                   = (*Destination)(nil)
)
