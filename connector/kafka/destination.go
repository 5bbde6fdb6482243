package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
)

// stopTimeout bounds how long a stopping Destination waits for the
// records it holds to be acknowledged by the brokers.
const stopTimeout = 5 * time.Second

// Destination produces each event as one record. It is a [sluice.Runner]:
// Run connects and produces until ctx is done. Send is safe for
// concurrent use; it returns once its records are handed to the producer
// and acks when the brokers have acknowledged every one of them. The
// package doc says what the ack means.
type Destination struct {
	cfg      DestinationConfig
	o        destOptions
	key      func(*event.Event) (string, bool) // nil: the message's Key
	jo       event.JSONOptions
	running  atomic.Bool
	ready    chan struct{} // closed once cl is set and the topic checked
	closed   chan struct{} // closed when Run returns
	runErr   error         // what Run returned; set before closed is closed
	cl       *kgo.Client
	fatal    chan error // a permanent failure for Run to return; capacity 1
	lastWarn atomic.Int64
	buffered atomic.Int64 // records handed to the producer and not yet done
	waiters  atomic.Int32
	room     chan struct{} // capacity 1: wakes a waiting Send
	limit    atomic.Int64  // the largest key+value sent; set by Run
	batchMax atomic.Int32  // the topic's max.message.bytes, or 0 if unknown
	readiness
}

// recordOverhead is what a record adds to its key and value in a record
// batch (lengths, timestamp and offset deltas), rounded up, plus the
// batch header (61 bytes).
const recordOverhead = 128

// DestinationOption configures a Destination with what cannot be
// serialised.
type DestinationOption func(*destOptions)

type destOptions struct {
	log        *slog.Logger
	deadLetter sluice.Destination[event.Event]
	hooks      DestinationHooks
	kgoOpts    []kgo.Opt
}

// DestinationHooks are called for metrics; nil fields are skipped. They
// must be safe for concurrent use.
type DestinationHooks struct {
	// Acked is called when the brokers acknowledged every record of a
	// Send, with its events, their bytes and how long it took.
	Acked func(events, bytes int, d time.Duration)
	// Rejected is called with each event that was not produced because it
	// is larger than MaxMessageBytes (cause "oversize"), and not given to a
	// dead letter.
	Rejected func(cause string)
	// Failed is called with the cause of each failure: "produce" (a
	// record failed permanently).
	Failed func(cause string)
}

// WithDestinationLogger sets the logger for connecting, rejected events
// and permanent failures. It never receives event contents. Default:
// discard.
func WithDestinationLogger(l *slog.Logger) DestinationOption {
	return func(o *destOptions) { o.log = l }
}

// WithDeadLetter sends events that cannot be produced (larger than
// MaxMessageBytes, or refused permanently by the broker) to d, instead of
// dropping them (oversize) or failing Run (any other refusal). Their acks
// are called when d acks. Default, or a nil d: none.
func WithDeadLetter(d sluice.Destination[event.Event]) DestinationOption {
	return func(o *destOptions) { o.deadLetter = d }
}

// WithDestinationHooks sets the metrics hooks. Default: none.
func WithDestinationHooks(h DestinationHooks) DestinationOption {
	return func(o *destOptions) { o.hooks = h }
}

// WithDestinationClientOpts adds franz-go client options after the ones
// the config makes. Default: none.
func WithDestinationClientOpts(opts ...kgo.Opt) DestinationOption {
	return func(o *destOptions) { o.kgoOpts = append(o.kgoOpts, opts...) }
}

// NewDestination returns a Destination for c. Zero fields of c take the
// defaults of [DefaultDestinationConfig]. It checks c and does no I/O:
// Run connects.
func NewDestination(c DestinationConfig, opts ...DestinationOption) (*Destination, error) {
	fillDestination(&c)
	if err := config.Required("kafka destination", append([]config.Field{{Path: "brokers", Empty: len(c.Brokers) == 0},
		{Path: "topic", Empty: c.Topic == ""}}, saslRequired(c.SASL)...)...); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("kafka destination: %w", err)
	}
	o := destOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	d := &Destination{cfg: c, o: o, ready: make(chan struct{}), closed: make(chan struct{}),
		fatal: make(chan error, 1), room: make(chan struct{}, 1)}
	d.o.log = o.log.With("topic", c.Topic)
	if c.Key != "" {
		d.key, _ = keyFunc(c.Key) // checked by Validate
	}
	d.jo, _ = event.JSONRaw(c.JSONRaw)
	return d, nil
}

func fillDestination(c *DestinationConfig) {
	d := DefaultDestinationConfig()
	c.Brokers = cloneStrings(c.Brokers)
	if c.Acks == "" {
		c.Acks = d.Acks
	}
	if c.Compression == "" {
		c.Compression = d.Compression
	}
	if c.Format == "" {
		c.Format = d.Format
	}
	if c.JSONRaw == "" {
		c.JSONRaw = d.JSONRaw
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	if c.MaxBuffered == 0 {
		c.MaxBuffered = d.MaxBuffered
	}
	if c.ClientID == "" {
		c.ClientID = d.ClientID
	}
}

// Run connects, retrying with back-off while no broker can be reached
// (logged, naming the brokers; [Destination.NotReady] says so meanwhile),
// and fails at once if authentication fails or the topic does not exist.
// It then serves Sends until ctx is done, waits up to 5s for the records
// it holds to be acknowledged, and closes the client: records not
// acknowledged by then are not acked, and Run returns an error wrapping
// [sluice.ErrUndelivered] that counts them. Run returns the first permanent
// failure of a record that has no dead letter to go to. A second call
// returns [sluice.ErrAlreadyRunning].
func (d *Destination) Run(ctx context.Context) (err error) {
	if !d.running.CompareAndSwap(false, true) {
		return fmt.Errorf("kafka destination: %w", sluice.ErrAlreadyRunning)
	}
	defer func() {
		d.runErr = err // the cause first: a Send refused once closed says it
		close(d.closed)
	}()
	d.set("connecting to brokers " + strings.Join(d.cfg.Brokers, ","))
	opts, err := connOpts("destination", d.cfg.Brokers, d.cfg.ClientID, d.cfg.TLS, d.cfg.SASL)
	if err != nil {
		return err
	}
	opts = append(opts,
		kgo.DefaultProduceTopic(d.cfg.Topic),
		kgo.RequiredAcks(acksOf[d.cfg.Acks]),
		kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(codecs[d.cfg.Compression]),
		kgo.ProducerBatchMaxBytesFn(func(string) int32 {
			if m := d.batchMax.Load(); m > 0 {
				return m // batches the topic takes
			}
			return int32(d.cfg.MaxMessageBytes + recordOverhead)
		}),
		// Send waits for room, so that a Send's ctx bounds its wait, and
		// holds at most MaxBuffered+BatchSize: Produce never blocks.
		kgo.MaxBufferedRecords(d.cfg.MaxBuffered+sluice.BatchSize),
		kgo.WithLogger(kgoLogger{d.o.log}),
	)
	if d.cfg.Acks != "all" {
		opts = append(opts, kgo.DisableIdempotentWrite()) // idempotence needs acks from every in-sync replica
	}
	cl, err := kgo.NewClient(append(opts, d.o.kgoOpts...)...)
	if err != nil {
		return fmt.Errorf("kafka destination: %w", err)
	}
	defer cl.Close()
	if err := connect(ctx, "destination", cl, d.cfg.Brokers, []string{d.cfg.Topic}, d.cfg.SASL, d.o.log); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	d.setLimit(ctx, cl)
	d.cl = cl
	close(d.ready)
	d.set("")
	d.o.log.Info("kafka destination: connected", "brokers", strings.Join(d.cfg.Brokers, ","))
	select {
	case <-ctx.Done():
	case err := <-d.fatal:
		return err
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	var undelivered error
	if err := cl.Flush(fctx); err != nil {
		n := cl.BufferedProduceRecords()
		d.o.log.Warn("kafka destination: stopping with records not acknowledged by the brokers; their events are not acked", "records", n)
		undelivered = fmt.Errorf("kafka destination: stopped with %d records not acknowledged by the brokers, not acked: %w", n, sluice.ErrUndelivered)
	}
	select {
	case err := <-d.fatal:
		return err
	default:
		return undelivered
	}
}

// setLimit reads the topic's max.message.bytes: batches are cut to fit
// it, and an event that cannot fit is rejected before it is produced
// rather than refused by the broker with the batch it is in.
func (d *Destination) setLimit(ctx context.Context, cl *kgo.Client) {
	d.limit.Store(int64(d.cfg.MaxMessageBytes))
	rcs, err := kadm.NewClient(cl).DescribeTopicConfigs(ctx, d.cfg.Topic)
	if err == nil && len(rcs) != 1 {
		err = fmt.Errorf("%d topics described, want 1", len(rcs))
	}
	if err == nil {
		err = rcs[0].Err
	}
	var max int
	if err == nil {
		for _, c := range rcs[0].Configs {
			if c.Key == "max.message.bytes" && c.Value != nil {
				max, err = strconv.Atoi(*c.Value)
			}
		}
	}
	if err != nil || max <= recordOverhead {
		d.o.log.Warn("kafka destination: cannot read the topic's max.message.bytes; an event that does not fit the topic fails its batch", "err", err)
		return
	}
	d.batchMax.Store(int32(min(max, math.MaxInt32)))
	if lim := max - recordOverhead; lim < d.cfg.MaxMessageBytes {
		d.limit.Store(int64(lim))
		d.o.log.Info("kafka destination: events larger than the topic's max.message.bytes are rejected", "maxMessageBytes", max)
	}
}

// Send produces msgs and acks once the brokers acknowledged every record.
// It blocks while MaxBuffered records wait for acknowledgement, until ctx
// is done; before Run has connected, it waits for it. An event larger than
// MaxMessageBytes goes to the dead letter, or is counted and dropped (its
// part of the ack is given: the event is not retried).
func (d *Destination) Send(ctx context.Context, ack func(), msgs ...sluice.Message[event.Event]) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kafka destination: %w", err)
	}
	if len(msgs) == 0 {
		sluice.Ack(ack)
		return nil
	}
	select {
	case <-d.ready:
	case <-d.closed:
		return d.closedErr()
	case <-ctx.Done():
		return fmt.Errorf("kafka destination: %w", ctx.Err())
	}
	select {
	case <-d.closed:
		return d.closedErr()
	default:
	}
	recs := make([]kgo.Record, len(msgs))
	bytes := 0
	for i := range msgs {
		d.record(&recs[i], &msgs[i])
		bytes += len(recs[i].Value)
	}
	start := time.Now()
	if h := d.o.hooks.Acked; h != nil {
		inner := ack
		ack = func() { h(len(msgs), bytes, time.Since(start)); sluice.Ack(inner) }
	}
	done := sluice.AckAfter(len(msgs), ack)
	var kept []sluice.Message[event.Event] // for the dead letter
	if d.o.deadLetter != nil {
		kept = append(kept, msgs...)
	}
	promise := func(r *kgo.Record, err error) {
		d.release(1)
		if err == nil {
			done()
			return
		}
		d.produceFailed(recs, kept, r, err, done)
	}
	// franz-go fails a buffered record when the context given to Produce
	// ends: the records of a Send that returned must not end with its ctx,
	// which bounds only the waits for room, a Processor batch at a time.
	bg := context.WithoutCancel(ctx)
	limit := d.limit.Load()
	for start := 0; start < len(recs); start += sluice.BatchSize {
		part := recs[start:min(start+sluice.BatchSize, len(recs))]
		n := int64(0)
		for i := range part {
			if int64(len(part[i].Value)+len(part[i].Key)) <= limit {
				n++
			}
		}
		if err := d.acquire(ctx, n); err != nil {
			if errors.Is(err, sluice.ErrClosed) {
				return err // done never completes: not acked
			}
			return fmt.Errorf("kafka destination: %w", err)
		}
		for i := range part {
			r := &part[i]
			if size := len(r.Value) + len(r.Key); int64(size) > limit {
				d.reject(ctx, kept, start+i, size, done)
				continue
			}
			d.cl.Produce(bg, r, promise)
		}
	}
	return nil
}

// closedErr is the error of a Send refused once Run has returned:
// ErrClosed, with Run's error if it failed, so that a caller that reports
// the first error it sees reports why. Call it once closed is closed.
func (d *Destination) closedErr() error {
	if d.runErr != nil {
		return fmt.Errorf("kafka destination: %w: %w", sluice.ErrClosed, d.runErr)
	}
	return fmt.Errorf("kafka destination: %w", sluice.ErrClosed)
}

// acquire counts n (at most sluice.BatchSize) more buffered records,
// waiting while they do not fit in MaxBuffered, unless none are buffered.
func (d *Destination) acquire(ctx context.Context, n int64) error {
	for {
		b := d.buffered.Load()
		if b == 0 || b+n <= int64(d.cfg.MaxBuffered) {
			if d.buffered.CompareAndSwap(b, b+n) {
				return nil
			}
			continue
		}
		d.waiters.Add(1)
		if b := d.buffered.Load(); b == 0 || b+n <= int64(d.cfg.MaxBuffered) {
			d.waiters.Add(-1)
			continue
		}
		select {
		case <-d.room:
			d.waiters.Add(-1)
		case <-ctx.Done():
			d.waiters.Add(-1)
			return ctx.Err()
		case <-d.closed:
			d.waiters.Add(-1)
			return d.closedErr()
		}
	}
}

// release uncounts n buffered records. It wakes a waiting Send only once
// there is room for two of the Processor's batches, not at every record
// acknowledged: waking at every one would cost a goroutine switch per
// record.
func (d *Destination) release(n int64) {
	left := d.buffered.Add(-n)
	if d.waiters.Load() == 0 || (left > int64(d.cfg.MaxBuffered-min(d.cfg.MaxBuffered/2, 2*sluice.BatchSize)) && left > 0) {
		return
	}
	select {
	case d.room <- struct{}{}:
	default:
	}
}

// record fills r from m.
func (d *Destination) record(r *kgo.Record, m *sluice.Message[event.Event]) {
	e := &m.Value
	if d.cfg.Format == "json" {
		r.Value = e.AppendJSONWith(nil, d.jo)
	} else {
		r.Value = e.Raw
	}
	switch {
	case d.key != nil:
		if k, ok := d.key(e); ok {
			r.Key = []byte(k)
		}
	case m.Key != "":
		r.Key = []byte(m.Key)
	}
}

// reject handles an event larger than MaxMessageBytes: to the dead letter
// if there is one, else counted, logged and acked.
func (d *Destination) reject(ctx context.Context, kept []sluice.Message[event.Event], i, size int, done func()) {
	if d.o.deadLetter != nil {
		if err := d.o.deadLetter.Send(ctx, done, kept[i]); err == nil {
			return
		}
	}
	if d.o.hooks.Rejected != nil {
		d.o.hooks.Rejected("oversize")
	}
	d.warn("kafka destination: event larger than maxMessageBytes dropped (counted as dropped, cause oversize; set a deadLetter to keep such events)",
		"bytes", size, "maxMessageBytes", d.cfg.MaxMessageBytes)
	done()
}

// produceFailed handles a record the producer failed. A record failed by
// the client closing, at stop, is simply not acked. Any other failure is
// permanent (franz-go retries the transient ones without limit): to the
// dead letter, or fatal. A batch the broker refuses as too large (its
// max.message.bytes was lowered after Run read it) fails each of its
// records so.
func (d *Destination) produceFailed(recs []kgo.Record, kept []sluice.Message[event.Event], r *kgo.Record, err error, done func()) {
	if errors.Is(err, kgo.ErrClientClosed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	i := 0
	for i = range recs {
		if &recs[i] == r {
			break
		}
	}
	if d.o.hooks.Failed != nil {
		d.o.hooks.Failed("produce")
	}
	if d.o.deadLetter != nil {
		d.warn("kafka destination: record refused; sent to the dead letter", "err", err)
		if dlErr := d.o.deadLetter.Send(context.Background(), done, kept[i]); dlErr == nil {
			return
		}
	}
	select {
	case d.fatal <- fmt.Errorf("kafka destination: produce to topic %q: %w", d.cfg.Topic, err):
	default:
	}
}

// warn logs at most once a second.
func (d *Destination) warn(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := d.lastWarn.Load()
	if now-last < int64(time.Second) || !d.lastWarn.CompareAndSwap(last, now) {
		return
	}
	d.o.log.Warn(msg, args...)
}

// Interface guards.
var (
	_ sluice.Destination[event.Event] = (*Destination)(nil)
	_ sluice.Runner                   = (*Destination)(nil)
)
