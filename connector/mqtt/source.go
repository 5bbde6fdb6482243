package mqtt

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// Source subscribes to a topic filter with a persistent session and hands
// over each message as an event whose Raw is the payload, with the topic
// in the message's Topic and in the event's field "topic".
//
// A message is acknowledged to the broker (PUBACK) only once it and every
// message received before it were acked downstream, so a message is
// never lost to a crash of sluiced: the broker sends it again to the same
// clientID. At most MaxInflight messages are held unacknowledged.
//
// Recv and RecvBatch are safe for concurrent use. Messages arrive only
// while Run runs; Run connects (retrying while the broker is down) and
// reconnects after a connection is lost.
type Source struct {
	c       SourceConfig
	name    string
	opts    options
	out     chan delivery
	running atomic.Bool
	// client is the client of the Run in progress, for NotReady.
	client atomic.Pointer[paho.Client]
}

type delivery struct {
	msg sluice.Message[event.Event]
	ack func()
}

// NewSource returns a Source for c, which it validates; name is the
// source's name, put in every event and in the default client id. It does
// no I/O.
func NewSource(c SourceConfig, name string, opts ...Option) (*Source, error) {
	if c.Broker == "" {
		return nil, errors.New("mqtt source: broker is required")
	}
	if c.Topic == "" {
		return nil, errors.New("mqtt source: topic is required")
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("mqtt source: %w", err)
	}
	if c.ClientID == "" {
		c.ClientID = defaultClientID(name)
	}
	if _, err := c.conn().clientOptions(false); err != nil {
		return nil, fmt.Errorf("mqtt source: %w", err)
	}
	return &Source{c: c, name: name, opts: newOptions(opts), out: make(chan delivery, c.MaxInflight)}, nil
}

// Run connects to the broker and subscribes, retrying with back-off while
// the broker cannot be reached, and takes messages until ctx is done. It
// returns an error only for what retrying cannot cure: the broker refused
// the credentials, the client id or the subscription. A second concurrent
// call returns [sluice.ErrAlreadyRunning].
func (s *Source) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return sluice.ErrAlreadyRunning
	}
	defer s.running.Store(false)
	o, err := s.c.conn().clientOptions(false)
	if err != nil {
		return fmt.Errorf("mqtt source: %w", err)
	}
	stop := make(chan struct{})
	fatal := make(chan error, 1)
	q := newInflight(s.c.MaxInflight)
	log := s.opts.log
	handle := func(_ paho.Client, m paho.Message) { s.handle(m, q, stop) }
	o.SetAutoAckDisabled(true).
		SetOrderMatters(true).            // one handler at a time, in the order received
		SetDefaultPublishHandler(handle). // a resumed session delivers before the subscription is renewed
		SetOnConnectHandler(func(c paho.Client) {
			tok := c.Subscribe(s.c.Topic, byte(s.c.QoS), nil)
			select {
			case <-tok.Done():
			case <-stop:
				return
			}
			if err := subscribeError(s.c.Topic, tok.(*paho.SubscribeToken)); err != nil {
				s.opts.failed("subscribe")
				select {
				case fatal <- err:
				default:
				}
			}
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			s.opts.failed("connection")
			log.Warn("connection to broker lost; reconnecting", "broker", redact(s.c.Broker), "err", err)
		})
	client := paho.NewClient(o)
	s.client.Store(&client)
	defer s.client.Store(nil)
	defer func() {
		close(stop) // unblocks a handler waiting for a slot
		client.Disconnect(250)
	}()
	if err := connect(ctx, client, s.c.Broker, log, s.opts.failed); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("mqtt source: %w", err)
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-fatal:
		return fmt.Errorf("mqtt source: %w", err)
	}
}

// handle takes one message from paho's router goroutine. It blocks while
// MaxInflight messages are unacknowledged, which stops paho reading from
// the connection: back-pressure to the broker.
func (s *Source) handle(m paho.Message, q *inflight, stop <-chan struct{}) {
	ack := q.add(m.Ack, stop)
	if ack == nil {
		return // stopping: the broker sends it again
	}
	payload := m.Payload()
	if len(payload) > s.c.MaxMessageBytes {
		s.opts.dropped("oversize", 1)
		s.opts.log.Warn("message over maxMessageBytes dropped", "topic", m.Topic(), "bytes", len(payload), "maxMessageBytes", s.c.MaxMessageBytes)
		ack()
		return
	}
	d := delivery{ack: ack, msg: sluice.Message[event.Event]{Topic: m.Topic(), Value: event.Event{
		ReceivedAt: time.Now(), Source: s.name, SourceType: "mqtt", Raw: payload,
		Fields: []event.Field{{Name: "topic", Value: m.Topic()}},
	}}}
	s.out <- d // never blocks: out has room for every message in flight
}

// Recv returns the next message. It blocks until one arrives or ctx is
// done.
func (s *Source) Recv(ctx context.Context) (sluice.Message[event.Event], func(), error) {
	if err := ctx.Err(); err != nil {
		return sluice.Message[event.Event]{}, nil, fmt.Errorf("mqtt source: %w", err)
	}
	select {
	case d := <-s.out:
		return d.msg, d.ack, nil
	case <-ctx.Done():
		return sluice.Message[event.Event]{}, nil, fmt.Errorf("mqtt source: %w", ctx.Err())
	}
}

// RecvBatch returns up to len(msgs) messages that are already waiting,
// blocking as Recv does for the first.
func (s *Source) RecvBatch(ctx context.Context, msgs []sluice.Message[event.Event], acks []func()) (int, error) {
	m, ack, err := s.Recv(ctx)
	if err != nil {
		return 0, err
	}
	msgs[0], acks[0] = m, ack
	n := 1
	for n < len(msgs) {
		select {
		case d := <-s.out:
			msgs[n], acks[n] = d.msg, d.ack
			n++
		default:
			return n, nil
		}
	}
	return n, nil
}

// NotReady says why the source takes no messages now, or returns "" when
// it is connected.
func (s *Source) NotReady() string {
	c := s.client.Load()
	if c == nil || !(*c).IsConnectionOpen() {
		return "mqtt source " + s.name + ": not connected to broker " + redact(s.c.Broker)
	}
	return ""
}

var (
	_ sluice.BatchSource[event.Event] = (*Source)(nil)
	_ sluice.Runner                   = (*Source)(nil)
)
