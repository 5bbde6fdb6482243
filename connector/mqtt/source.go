package mqtt

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/brokersrc"
)

// Source subscribes to a topic filter with a persistent session and hands
// over each message as an event whose Raw is the payload, with the topic
// in the message's Topic and in the event's field "topic".
//
// A message is acknowledged to the broker (PUBACK) only once it and every
// message received before it were acked downstream, so a message is
// never lost to a crash of sluiced: the broker sends it again to the same
// clientID. At most MaxInflight messages are held unacknowledged. After
// a reconnection the broker resends what it has no PUBACK for: a copy of
// a message held, or of one acked while the connection was down, is not
// handed on again (see doc.go's table).
//
// Recv and RecvBatch are safe for concurrent use. Messages arrive only
// while Run runs; Run connects (retrying while the broker is down) and
// reconnects after a connection is lost.
type Source struct {
	c    SourceConfig
	name string
	opts options
	// q passes messages to Recv; it stops when Run's ctx is done, and Run
	// waits for the messages it handed out to be acked before it
	// disconnects.
	q       *brokersrc.Queue[event.Event, *brokersrc.Delivery[event.Event]]
	running atomic.Bool
	// client is the client of the Run in progress, for NotReady.
	client atomic.Pointer[paho.Client]
	// subscribed is set once the broker acknowledged (SUBACK) the
	// subscription made on the current connection, for NotReady.
	subscribed atomic.Bool
}

// drainTimeout bounds how long Run, once its ctx is done, waits for the
// messages Recv handed out to be acked, so that their PUBACKs still go
// out on the connection they came on.
const drainTimeout = 2 * time.Second

// NewSource returns a Source for c, which it validates; name is the
// source's name, put in every event and in the default client id. It does
// no I/O.
func NewSource(c SourceConfig, name string, opts ...Option) (*Source, error) {
	if err := config.Required("mqtt source", config.Field{Path: "broker", Empty: c.Broker == ""},
		config.Field{Path: "topic", Empty: c.Topic == ""}); err != nil {
		return nil, err
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
	return &Source{c: c, name: name, opts: newOptions(opts),
		q: brokersrc.New[event.Event, *brokersrc.Delivery[event.Event]]("mqtt source", c.MaxInflight)}, nil
}

// Run connects to the broker and subscribes, retrying with back-off while
// the broker cannot be reached, and takes messages until ctx is done.
// Then Recv returns io.EOF, and Run waits up to 2s for the messages Recv
// handed out to be acked, so that their PUBACKs go out, before it
// disconnects; no goroutine of its subscription outlives it. It returns
// an error only for what retrying cannot cure: the broker refused the
// credentials, the client id or the subscription.
// A Source runs once: a second call returns [sluice.ErrAlreadyRunning].
func (s *Source) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return sluice.ErrAlreadyRunning
	}
	defer s.q.Stop()
	o, err := s.c.conn().clientOptions(false)
	if err != nil {
		return fmt.Errorf("mqtt source: %w", err)
	}
	stop := make(chan struct{})
	fatal := make(chan error, 1)
	var subs subscriptions
	q := newInflight(s.c.MaxInflight)
	log := s.opts.log
	var client paho.Client
	open := func() bool { return client.IsConnectionOpen() }
	handle := func(_ paho.Client, m paho.Message) { s.handle(m, q, stop, open) }
	o.SetAutoAckDisabled(true).
		SetOrderMatters(true).            // one handler at a time, in the order received
		SetDefaultPublishHandler(handle). // a resumed session delivers before the subscription is renewed
		SetReconnectingHandler(func(paho.Client, *paho.ClientOptions) { q.reconnecting() }).
		SetOnConnectHandler(func(c paho.Client) {
			s.subscribed.Store(false)
			q.connected()
			if !subs.begin() {
				return // Run is stopping
			}
			defer subs.end()
			if err := s.subscribe(c, stop); err != nil {
				select {
				case fatal <- err:
				default:
				}
			}
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			s.subscribed.Store(false)
			s.opts.failed("connection")
			log.Warn("connection to broker lost; reconnecting", "broker", redact(s.c.Broker), "err", err)
		})
	client = paho.NewClient(o)
	s.client.Store(&client)
	defer s.client.Store(nil)
	defer func() {
		s.q.Stop()
		close(stop) // unblocks a handler waiting for a slot, and subscribe
		subs.stop()
		s.q.Wait(drainTimeout)
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

// subscribe subscribes c, just connected, to the topic. It returns an
// error only for a refusal. Another failure (the connection was lost
// before the SUBACK came, or the SUBSCRIBE could not be queued within
// connectTimeout) is retried every second while the connection is open;
// once it is lost, the next connection subscribes again.
func (s *Source) subscribe(c paho.Client, stop <-chan struct{}) error {
	for {
		tok := c.Subscribe(s.c.Topic, byte(s.c.QoS), nil)
		select {
		case <-tok.Done():
		case <-stop:
			return nil
		}
		err := subscribeError(s.c.Topic, tok.(*paho.SubscribeToken))
		if err == nil {
			s.subscribed.Store(true)
			s.opts.log.Info("subscribed", "topic", s.c.Topic, "qos", s.c.QoS)
			return nil
		}
		s.opts.failed("subscribe")
		if !isRetryable(err) {
			return err
		}
		s.opts.log.Warn("subscribe failed; retrying", "topic", s.c.Topic, "err", err)
		select {
		case <-stop:
			return nil
		case <-time.After(time.Second):
		}
		if !c.IsConnectionOpen() {
			return nil
		}
	}
}

// subscriptions tracks the subscribe calls of Run's OnConnect handler,
// so that none is in progress when Run disconnects: paho's Subscribe,
// once it found the client connected, waits up to the timeout to queue
// the SUBSCRIBE, and nothing queues it once the client disconnected.
// While the connection is up the queueing takes no time, so stop returns
// at once unless the connection is lost during a Subscribe call, when
// it waits for paho's timeout (connectTimeout, 10s by default).
type subscriptions struct {
	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup
}

// begin reports whether a subscription may start; if so the caller calls
// end when it ends.
func (g *subscriptions) begin() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return false
	}
	g.wg.Add(1)
	return true
}

func (g *subscriptions) end() { g.wg.Done() }

// stop refuses new subscriptions and waits for those begun to end; the
// caller has already closed the stop channel they watch.
func (g *subscriptions) stop() {
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
	g.wg.Wait()
}

// handle takes one message from paho's router goroutine. It blocks while
// MaxInflight messages are unacknowledged, which stops paho reading from
// the connection: back-pressure to the broker. A copy the broker resent
// (DUP) of a message in flight, or of one whose PUBACK went nowhere, is
// not handed on (see inflight.resent).
func (s *Source) handle(m paho.Message, q *inflight, stop <-chan struct{}, open func() bool) {
	if m.Duplicate() && q.resent(m, stop, open) {
		return
	}
	p := q.add(m, stop, open)
	if p == nil {
		return // stopping, or the connection is lost: the broker sends it again
	}
	payload := m.Payload()
	if len(payload) > s.c.MaxMessageBytes {
		s.opts.dropped("oversize", 1)
		s.opts.log.Warn("message over maxMessageBytes dropped", "topic", m.Topic(), "bytes", len(payload), "maxMessageBytes", s.c.MaxMessageBytes)
		q.done(p)
		return
	}
	d := &brokersrc.Delivery[event.Event]{Msg: sluice.Message[event.Event]{Topic: m.Topic(), Value: event.Event{
		ReceivedAt: time.Now(), Source: s.name, SourceType: "mqtt", Raw: payload,
		Fields: []event.Field{{Name: "topic", Value: m.Topic()}},
	}}}
	d.Ack = func() {
		if q.done(p) {
			s.q.Acked(d)
		}
	}
	s.q.Put(context.Background(), d) // never blocks: the queue has room for every message in flight
}

// Recv returns the next message. It blocks until one arrives or ctx is
// done. Once Run is stopping, it returns io.EOF: what is left was not
// acknowledged to the broker, which sends it again to the next run.
func (s *Source) Recv(ctx context.Context) (sluice.Message[event.Event], func(), error) {
	return s.q.Recv(ctx)
}

// RecvBatch returns up to len(msgs) messages that are already waiting,
// blocking as Recv does for the first.
func (s *Source) RecvBatch(ctx context.Context, msgs []sluice.Message[event.Event], acks []func()) (int, error) {
	return s.q.RecvBatch(ctx, msgs, acks)
}

// NotReady says why the source takes no messages now, or returns "" when
// it is connected and the broker acknowledged its subscription on that
// connection: before the SUBACK, a first session is not subscribed yet
// and the broker drops what is published to the topic meanwhile.
func (s *Source) NotReady() string {
	c := s.client.Load()
	if c == nil || !(*c).IsConnectionOpen() {
		return "not connected to broker " + redact(s.c.Broker)
	}
	if !s.subscribed.Load() {
		return "not subscribed yet to topic " + strconv.Quote(s.c.Topic) + " at broker " + redact(s.c.Broker)
	}
	return ""
}

var (
	_ sluice.BatchSource[event.Event] = (*Source)(nil)
	_ sluice.Runner                   = (*Source)(nil)
)
