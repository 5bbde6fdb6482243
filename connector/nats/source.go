package nats

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/brokersrc"
	"github.com/sluicehq/sluice/retry"
)

// Source consumes a JetStream stream with a durable pull consumer
// (AckExplicit) and hands over each message as an event whose Raw is the
// payload, with the subject in the message's Topic and in the event's
// field "subject".
//
// Each message is acked to the server once the destination acked it, so
// a message is never lost to a crash of sluiced: the server sends what
// was not acked again after AckWait. The source holds every message from
// its arrival (its queue has room for MaxAckPending, as many as the
// server sends unacked, so none waits in the client's pull buffer while
// the destination is slow) until the destination acks it, and reports
// each held message in progress every third of AckWait (the first time
// within half of AckWait of its arrival), so a slow destination causes
// no redelivery; the server holds back once MaxAckPending messages are
// unacked, so a slow destination slows the consumer down instead of
// piling up messages. Should the server send a message again all the
// same (no report reached it within AckWait: sluiced starved of CPU), a
// copy of a message the source holds, or is among the 4×MaxAckPending it
// acked last, is not handed on: a held message's ack counts for its
// copy, and the copy of an acked one is acked again.
//
// Recv and RecvBatch are safe for concurrent use. Messages arrive only
// while Run runs.
type Source struct {
	c    SourceConfig
	name string
	opts options
	// q passes messages to Recv; it stops when Run's ctx is done, and Run
	// waits for the messages it handed out to be acked.
	q       *brokersrc.Queue[event.Event, *delivery]
	running atomic.Bool
	nc      atomic.Pointer[natsgo.Conn]
	ready   atomic.Bool // the consumer is set up
	// beforePull, if set (by tests), runs between the consumer's set-up
	// and the first pull.
	beforePull func()
	// received, if set (by tests), runs for each message pulled, before
	// the source looks at it.
	received func(jetstream.Msg)
	// progressEvery is how often held messages are reported in progress:
	// a third of AckWait (tests set it longer, to starve the reports).
	progressEvery time.Duration

	mu   sync.Mutex
	held delivery // sentinel of the ring of messages received and not acked
	// acks holds the stream sequences of the messages acked last, the
	// oldest overwritten (next is where the next goes), to recognise a
	// copy the server sent before an ack reached it.
	acks []uint64
	next int
}

// delivery is a message received and its ack. While held, it is in the
// Source's ring, a doubly linked list: insertion and removal allocate
// nothing and cost no hashing.
type delivery struct {
	brokersrc.Delivery[event.Event]
	m          jetstream.Msg
	seq        uint64 // the message's stream sequence
	acked      atomic.Bool
	subject    [1]event.Field // the event's Fields, in the same allocation
	prev, next *delivery      // in the ring; guarded by Source.mu
	progress   time.Time      // when last reported in progress (or received); guarded by Source.mu
}

// drainTimeout bounds how long Run, once its ctx is done, waits for the
// messages Recv handed out to be acked, so that their acks still reach
// the server.
const drainTimeout = 2 * time.Second

// NewSource returns a Source for c, which it validates; name is the
// source's name, put in every event and in the default durable name. It
// does no I/O.
func NewSource(c SourceConfig, name string, opts ...Option) (*Source, error) {
	if err := config.Required("nats source", config.Field{Path: "url", Empty: c.URL == ""}, config.Field{Path: "stream", Empty: c.Stream == ""}); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("nats source: %w", err)
	}
	if c.Durable == "" {
		c.Durable = defaultDurable(name)
	}
	s := &Source{c: c, name: name, opts: newOptions(opts), progressEvery: c.AckWait / 3,
		q:    brokersrc.New[event.Event, *delivery]("nats source", c.MaxAckPending),
		acks: make([]uint64, ackMemory*c.MaxAckPending)}
	s.held.prev, s.held.next = &s.held, &s.held
	return s, nil
}

// Run connects (retrying with back-off while no server can be reached),
// sets up the durable consumer and takes messages until ctx is done.
// Then Recv returns io.EOF; Run waits up to 2s for the messages Recv
// handed out to be acked, naks those never handed out (so they come again
// at once), and closes the connection. It returns an error for what
// retrying cannot cure: refused credentials, a stream that does not
// exist, JetStream not enabled, a consumer the server will not create.
// A Source runs once: a second call returns [sluice.ErrAlreadyRunning].
func (s *Source) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return sluice.ErrAlreadyRunning
	}
	defer s.q.Stop()
	log := s.opts.log
	cn := s.c.conn()
	opts, err := cn.natsOptions("sluiced "+s.name, log, s.opts.failed)
	if err != nil {
		return fmt.Errorf("nats source: %w", err)
	}
	nc, err := cn.connect(ctx, opts, log, s.opts.failed)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("nats source: %w", err)
	}
	s.nc.Store(nc)
	defer nc.Close()
	cons, err := s.consumer(ctx, nc)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("nats source: %w", err)
	}
	s.ready.Store(true)
	defer s.ready.Store(false)
	if s.beforePull != nil {
		s.beforePull()
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(s.c.FetchBatch), jetstream.PullHeartbeat(heartbeat))
	if err != nil {
		return fmt.Errorf("nats source: consume: %w", err)
	}
	var wg sync.WaitGroup
	progressCtx, stopProgress := context.WithCancel(ctx)
	defer wg.Wait()
	defer stopProgress() // before the wait: pull may end on an error, ctx still live
	wg.Go(func() { s.keepInProgress(progressCtx) })
	// The iterator stops when ctx is done: Next without a context option
	// allocates nothing per message (with NextContext, two).
	stopPull := context.AfterFunc(ctx, it.Stop)
	err = s.pull(ctx, cons, it)
	stopPull()
	s.q.Stop()
	it.Stop()
	s.drain()
	return err
}

// consumer checks the stream and creates or updates the durable consumer,
// retrying what may be transient (a timeout while a server starts).
func (s *Source) consumer(ctx context.Context, nc *natsgo.Conn) (jetstream.Consumer, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	var cons jetstream.Consumer
	err = retry.Do(ctx, retry.Policy{}, isRetryable, func(ctx context.Context) error {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := js.Stream(actx, s.c.Stream); err != nil {
			switch {
			case errors.Is(err, jetstream.ErrStreamNotFound):
				return refused{fmt.Errorf("stream %q does not exist on %s (check stream; create it with: nats stream add %s --subjects '%s')",
					s.c.Stream, redact(s.c.URL), s.c.Stream, orAll(s.c.Subject))}
			case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
				return refused{fmt.Errorf("JetStream is not enabled on %s (run nats-server with -js)", redact(s.c.URL))}
			}
			s.opts.log.Warn("cannot look up the stream; retrying", "stream", s.c.Stream, "err", err)
			return fmt.Errorf("stream %q: %w", s.c.Stream, err)
		}
		c, err := js.CreateOrUpdateConsumer(actx, s.c.Stream, jetstream.ConsumerConfig{
			Durable:       s.c.Durable,
			FilterSubject: s.c.Subject, // not FilterSubjects: that needs nats-server 2.10
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       s.c.AckWait,
			MaxAckPending: s.c.MaxAckPending,
			MaxDeliver:    -1,
			DeliverPolicy: jetstream.DeliverAllPolicy,
		})
		if err != nil {
			var jsErr jetstream.JetStreamError
			if errors.As(err, &jsErr) && jsErr.APIError() != nil {
				return refused{fmt.Errorf("consumer %q on stream %q: %w (check durable and subject)", s.c.Durable, s.c.Stream, err)}
			}
			return fmt.Errorf("consumer %q: %w", s.c.Durable, err)
		}
		cons = c
		s.opts.log.Info("consuming", "stream", s.c.Stream, "durable", s.c.Durable, "subject", orAll(s.c.Subject))
		return nil
	})
	return cons, err
}

func orAll(subject string) string {
	if subject == "" {
		return ">"
	}
	return subject
}

// heartbeat is how often the server reports an idle pull alive; the
// iterator reports it missing after two.
const heartbeat = 5 * time.Second

// pull takes messages from it, of cons, until ctx is done.
func (s *Source) pull(ctx context.Context, cons jetstream.Consumer, it jetstream.MessagesContext) error {
	for {
		m, err := it.Next()
		if err != nil {
			switch {
			case ctx.Err() != nil, errors.Is(err, jetstream.ErrMsgIteratorClosed):
				return nil
			case errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, jetstream.ErrConsumerNotFound),
				errors.Is(err, jetstream.ErrNoHeartbeat) && s.consumerGone(ctx, cons):
				return fmt.Errorf("consumer %q was deleted from stream %q", s.c.Durable, s.c.Stream)
			}
			s.opts.failed("pull")
			s.opts.log.Warn("pull failed; retrying", "stream", s.c.Stream, "err", err)
			continue // the iterator pulls again by itself
		}
		if s.received != nil {
			s.received(m)
		}
		if len(m.Data()) > s.c.MaxMessageBytes {
			s.opts.dropped("oversize", 1)
			s.opts.log.Warn("message over maxMessageBytes terminated", "subject", m.Subject(), "bytes", len(m.Data()), "maxMessageBytes", s.c.MaxMessageBytes)
			if err := m.Term(); err != nil {
				s.opts.failed("ack")
			}
			continue
		}
		delivered, seq, ok := ackReply(m.Reply())
		if !ok { // not from JetStream: cannot be acked
			s.opts.failed("pull")
			s.opts.log.Warn("message without a JetStream reply subject ignored", "subject", m.Subject(), "reply", m.Reply())
			continue
		}
		if delivered > 1 && s.copyOf(seq, m) {
			continue
		}
		d := &delivery{m: m, seq: seq}
		d.subject[0] = event.Field{Name: "subject", Value: m.Subject()}
		d.Msg = sluice.Message[event.Event]{Topic: m.Subject(), Value: event.Event{
			ReceivedAt: time.Now(), Source: s.name, SourceType: "nats", Raw: m.Data(),
			Fields: d.subject[:],
		}}
		d.Ack = func() {
			if d.acked.CompareAndSwap(false, true) {
				s.acked(d)
			}
		}
		s.hold(d)
		if !s.q.Put(ctx, d) {
			s.forget(d)
			_ = m.Nak()
			return nil
		}
	}
}

// consumerGone reports whether the server says cons no longer exists. A
// consumer deleted while no pull of ours waits on the server (before the
// first, or between two) sends no "consumer deleted" status: the
// heartbeats just stop, and only asking tells why.
func (s *Source) consumerGone(ctx context.Context, cons jetstream.Consumer) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := cons.Info(ctx)
	return errors.Is(err, jetstream.ErrConsumerNotFound)
}

// acked acks d to the server.
func (s *Source) acked(d *delivery) {
	err := d.m.Ack()
	if err != nil {
		s.opts.failed("ack")
		s.opts.log.Warn("ack failed; the server will send the message again", "err", err)
	}
	s.mu.Lock()
	s.unlink(d)
	if err == nil {
		s.acks[s.next] = d.seq
		s.next = (s.next + 1) % len(s.acks)
	}
	s.mu.Unlock()
	s.q.Acked(d)
}

// ackMemory times maxAckPending is how many acked messages the source
// remembers to recognise copies of.
const ackMemory = 4

// copyOf reports whether m, a message the server sent again, with stream
// sequence seq, is a copy of one the source holds or acked lately (the
// server got no in-progress report or ack in time). A copy of a held
// message is left alone: the original's ack or in-progress report counts
// for it. A copy of an acked one is acked again, in case the first ack
// was lost.
func (s *Source) copyOf(seq uint64, m jetstream.Msg) bool {
	s.mu.Lock()
	held, acked := false, false
	for d := s.held.next; d != &s.held && !held; d = d.next {
		held = d.seq == seq
	}
	if !held {
		acked = slices.Contains(s.acks, seq)
	}
	s.mu.Unlock()
	if acked {
		if err := m.Ack(); err != nil {
			s.opts.failed("ack")
		}
	}
	if held || acked {
		s.opts.log.Debug("copy of a message sent again dropped", "subject", m.Subject(), "seq", seq, "acked", acked)
	}
	return held || acked
}

// hold puts d in the ring of held messages.
func (s *Source) hold(d *delivery) {
	s.mu.Lock()
	d.progress = time.Now()
	d.prev, d.next = s.held.prev, &s.held
	s.held.prev.next = d
	s.held.prev = d
	s.mu.Unlock()
}

// forget takes d out of the ring.
func (s *Source) forget(d *delivery) {
	s.mu.Lock()
	s.unlink(d)
	s.mu.Unlock()
}

// unlink takes d out of the ring; s.mu is held.
func (s *Source) unlink(d *delivery) {
	if d.next != nil {
		d.prev.next, d.next.prev = d.next, d.prev
		d.prev, d.next = nil, nil
	}
}

// keepInProgress tells the server, every third of AckWait, which held
// messages are still in progress, so that it does not send them again.
func (s *Source) keepInProgress(ctx context.Context) {
	tick := time.NewTicker(s.progressEvery)
	defer tick.Stop()
	var due []jetstream.Msg
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			due = s.due(now, due[:0])
			for i, m := range due {
				if err := m.InProgress(); err != nil {
					s.opts.failed("ack")
				}
				due[i] = nil
			}
		}
	}
}

// due appends to ms the held messages last reported in progress (or
// received) half a period or more before now, and records them reported
// at now. Half, not a whole period: a tick a little early must not skip
// a message to the next tick, which would leave it unreported for two
// thirds of AckWait.
func (s *Source) due(now time.Time, ms []jetstream.Msg) []jetstream.Msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	for d := s.held.next; d != &s.held; d = d.next {
		if now.Sub(d.progress) >= s.progressEvery/2 {
			d.progress = now
			ms = append(ms, d.m)
		}
	}
	return ms
}

// drain waits up to drainTimeout for the messages Recv handed out to be
// acked, then naks those it never handed out.
func (s *Source) drain() {
	s.q.Wait(drainTimeout)
	for _, d := range s.q.Unhanded() {
		s.forget(d)
		_ = d.m.Nak()
	}
}

// Recv returns the next message. It blocks until one arrives or ctx is
// done. Once Run is stopping, it returns io.EOF.
func (s *Source) Recv(ctx context.Context) (sluice.Message[event.Event], func(), error) {
	return s.q.Recv(ctx)
}

// RecvBatch returns up to len(msgs) messages that are already waiting,
// blocking as Recv does for the first.
func (s *Source) RecvBatch(ctx context.Context, msgs []sluice.Message[event.Event], acks []func()) (int, error) {
	return s.q.RecvBatch(ctx, msgs, acks)
}

// NotReady says why the source takes no messages now, or returns "".
func (s *Source) NotReady() string {
	nc := s.nc.Load()
	switch {
	case nc == nil || nc.Status() != natsgo.CONNECTED:
		return "not connected to " + redact(s.c.URL)
	case !s.ready.Load():
		return "consumer " + s.c.Durable + " on stream " + s.c.Stream + " not set up"
	}
	return ""
}

var (
	_ sluice.BatchSource[event.Event] = (*Source)(nil)
	_ sluice.Runner                   = (*Source)(nil)
)
