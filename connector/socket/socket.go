package socket

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
)

// Destination writes batches of events to a TCP (or TLS) connection. It
// is a [sluice.Runner]: batches are written while Run runs, and Run closes
// the connections when it returns. Send is safe for concurrent use. The
// package doc says when an event is acked.
type Destination struct {
	*batch.Destination[event.Event]
	s       *sender
	running atomic.Bool
}

// Option configures a Destination with what cannot be serialised.
type Option func(*options)

type options struct {
	log        *slog.Logger
	deadLetter sluice.Destination[event.Event]
	hooks      Hooks
}

// Hooks are called as batches are written, for metrics. Nil fields are
// skipped. They are called from the flush goroutines and must be safe for
// concurrent use.
type Hooks struct {
	// Written is called after a batch is written, with its events, the
	// bytes written and how long the flush took, dialling included.
	Written func(events, bytes int, d time.Duration)
	// Failed is called with the cause of each failure: "dial" (connecting
	// or the TLS handshake failed), "write", "timeout" (a dial or write
	// took longer than its timeout), "peer_closed" (the peer had closed an
	// idle connection, which is redialled; no batch failed), and
	// "newline", once per event that holds a newline, with framing lf.
	Failed func(cause string)
}

// WithLogger sets the logger for connections made and lost, events that
// hold a newline with lf framing, retries, dead-lettered batches and
// fatal failures. It never receives event contents. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithDeadLetter sends batches whose retries ran out (only when
// batch.retry.maxAttempts is set) to d, instead of failing Run. The
// events' acks are called when d acks. Default, or a nil d: no dead
// letter.
func WithDeadLetter(d sluice.Destination[event.Event]) Option {
	return func(o *options) { o.deadLetter = d }
}

// WithHooks sets the metrics hooks. Default: none.
func WithHooks(h Hooks) Option { return func(o *options) { o.hooks = h } }

// New returns a Destination writing to c.Addr. Zero fields of c take the
// defaults of [DefaultConfig], and so do the zero fields of c.Batch (a
// zero Batch is eager; Eager false is kept only when another field of
// Batch is set), so that a partial Batch keeps parallelism 1 and the order
// of events. It checks c and does no I/O: Run reads the TLS files, and the
// first flush connects.
func New(c Config, opts ...Option) (*Destination, error) {
	def := DefaultConfig()
	if c.Network == "" {
		c.Network = def.Network
	}
	if c.Framing == "" {
		c.Framing = def.Framing
	}
	if c.Format == "" {
		c.Format = def.Format
	}
	if c.JSONRaw == "" {
		c.JSONRaw = def.JSONRaw
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = def.DialTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = def.WriteTimeout
	}
	c.Batch = batchDefaults(c.Batch, def.Batch)
	if err := config.Required("socket", config.Field{Path: "addr", Empty: c.Addr == ""}); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	jo, _ := event.JSONRaw(c.JSONRaw)
	s := &sender{
		cfg:    c,
		log:    o.log.With("addr", c.Addr),
		hooks:  o.hooks,
		json:   c.Format == "json",
		jo:     jo,
		octet:  c.Framing == "octet",
		dialer: net.Dialer{Timeout: c.DialTimeout},
	}
	extra := 12 // "LEN SP" or the newline
	if s.json {
		extra = 256
	}
	// Without a dead letter, which needs the events, batches hold the
	// frames already encoded (by Send).
	var d *batch.Destination[event.Event]
	var err error
	if o.deadLetter == nil {
		d, err = batch.NewEncoded(c.Batch, s.appendFrame, batch.FlushBytesFunc(s.write), batch.WithLogger[event.Event](o.log))
	} else {
		d, err = batch.New(c.Batch, batch.FlushFunc[event.Event](s.flush),
			batch.WithLogger[event.Event](o.log),
			batch.WithSize(func(m *sluice.Message[event.Event]) int { return len(m.Value.Raw) + extra }),
			batch.WithDeadLetter(o.deadLetter))
	}
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	return &Destination{Destination: d, s: s}, nil
}

// batchDefaults fills the zero fields of c from def; Eager only when c is
// zero altogether.
func batchDefaults(c, def batch.Config) batch.Config {
	if c == (batch.Config{}) {
		return def
	}
	if c.Count == 0 {
		c.Count = def.Count
	}
	if c.Bytes == 0 {
		c.Bytes = def.Bytes
	}
	if c.Age == 0 {
		c.Age = def.Age
	}
	if c.Parallelism == 0 {
		c.Parallelism = def.Parallelism
	}
	return c
}

// Run reads the TLS files, writes batches until ctx is done and what is
// held is flushed (see [batch.Destination.Run]), then closes the
// connections. If the TLS files do not load, the events sent so far are
// neither written nor acked, and Run's error says how many (see
// [batch.Destination.RunAfter]). A second call returns
// [sluice.ErrAlreadyRunning].
func (d *Destination) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return fmt.Errorf("socket: %w", sluice.ErrAlreadyRunning)
	}
	defer d.s.closeIdle()
	return d.Destination.RunAfter(ctx, func(context.Context) error {
		if t := d.s.cfg.TLS; t != nil {
			host, _, _ := net.SplitHostPort(d.s.cfg.Addr) // checked by New
			tc, err := t.load(host)
			if err != nil {
				return err
			}
			d.s.tls = tc
		}
		return nil
	})
}

// sender writes one batch per flush.
//
// Locking: mu guards idle only, and is never held during I/O.
type sender struct {
	cfg    Config
	log    *slog.Logger
	hooks  Hooks
	json   bool
	jo     event.JSONOptions // with json
	octet  bool
	dialer net.Dialer
	tls    *tls.Config // set by Run before any flush; nil for plain TCP

	pool     sync.Pool    // *[]byte, for flush
	lastWarn atomic.Int64 // unix nanoseconds of the last newline warning

	mu   sync.Mutex
	idle []*conn // connections no flush is using; at most batch.parallelism
}

// flush encodes msgs and writes them on a connection of its own.
func (s *sender) flush(ctx context.Context, msgs []sluice.Message[event.Event]) error {
	b, _ := s.pool.Get().(*[]byte)
	if b == nil {
		b = new([]byte)
	}
	defer s.pool.Put(b)
	out := (*b)[:0]
	for i := range msgs {
		out = s.appendFrame(out, &msgs[i])
	}
	*b = out
	return s.send(ctx, out, len(msgs))
}

// write writes b, the frames of a batch, which end at ends, on a
// connection of its own.
func (s *sender) write(ctx context.Context, b []byte, ends []int) error {
	return s.send(ctx, b, len(ends))
}

// send writes b, the frames of n events, on a connection of its own.
func (s *sender) send(ctx context.Context, b []byte, n int) error {
	start := time.Now()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	if len(b) == 0 {
		return nil // every event was empty
	}
	c, err := s.get(ctx)
	if err != nil {
		return err
	}
	if err := c.write(ctx, b, s.cfg.WriteTimeout); err != nil {
		c.close()
		return s.netError(ctx, "write to "+s.cfg.Addr, "write", err)
	}
	s.put(c)
	if s.hooks.Written != nil {
		s.hooks.Written(n, len(b), time.Since(start))
	}
	return nil
}

// appendFrame appends m's frame to out. With lf framing, an event that
// holds a newline is counted and logged (see newline).
func (s *sender) appendFrame(out []byte, m *sluice.Message[event.Event]) []byte {
	e := &m.Value
	switch {
	case s.json && s.octet:
		// The count comes first, and is known once the JSON is written:
		// move the JSON up past "LEN SP".
		start := len(out)
		out = e.AppendJSONWith(out, s.jo)
		n := len(out) - start
		var num [20]byte
		prefix := append(strconv.AppendInt(num[:0], int64(n), 10), ' ')
		out = append(out, prefix...)
		copy(out[start+len(prefix):], out[start:start+n])
		copy(out[start:], prefix)
		return out
	case s.json:
		return append(e.AppendJSONWith(out, s.jo), '\n') // JSON holds no newline
	case len(e.Raw) == 0:
		return out // octet counting cannot carry an empty frame; a receiver skips a blank line
	case s.octet:
		out = strconv.AppendInt(out, int64(len(e.Raw)), 10)
		return append(append(out, ' '), e.Raw...)
	}
	if bytes.IndexByte(e.Raw, '\n') >= 0 {
		s.newline()
	}
	return append(append(out, e.Raw...), '\n')
}

// newline counts an event that holds a newline and logs, at most once a
// minute, that such events are split.
func (s *sender) newline() {
	if s.hooks.Failed != nil {
		s.hooks.Failed("newline")
	}
	now := time.Now().UnixNano()
	last := s.lastWarn.Load()
	if now-last < int64(time.Minute) || !s.lastWarn.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn("socket: events hold a newline and reach the receiver as several frames; use framing octet to keep them whole (logged at most once a minute; each is counted as an error, cause newline)")
}

// get returns an idle connection, or a new one. A connection that the
// peer closed while it was idle is closed and replaced.
func (s *sender) get(ctx context.Context) (*conn, error) {
	s.mu.Lock()
	var c *conn
	if n := len(s.idle); n > 0 {
		c = s.idle[n-1]
		s.idle[n-1] = nil
		s.idle = s.idle[:n-1]
	}
	s.mu.Unlock()
	if c != nil {
		select {
		case <-c.done:
			s.failed("peer_closed")
			s.log.Info("socket: the peer closed the connection; reconnecting", "err", c.err)
			c.close()
		default:
			return c, nil
		}
	}
	return s.dial(ctx)
}

// put makes c idle, for the next flush.
func (s *sender) put(c *conn) {
	s.mu.Lock()
	s.idle = append(s.idle, c)
	s.mu.Unlock()
}

// closeIdle closes every idle connection; once Run's flushes are done,
// that is every connection.
func (s *sender) closeIdle() {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}

// dial connects, and completes the TLS handshake, within DialTimeout.
func (s *sender) dial(ctx context.Context) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	nc, err := s.dialer.DialContext(dctx, s.cfg.Network, s.cfg.Addr)
	if err != nil {
		return nil, s.netError(ctx, "dial "+s.cfg.Addr, "dial", err)
	}
	if s.tls != nil {
		tc := tls.Client(nc, s.tls)
		if err := tc.HandshakeContext(dctx); err != nil {
			_ = nc.Close()
			return nil, s.netError(ctx, "tls handshake with "+s.cfg.Addr, "dial", err)
		}
		nc = tc
	}
	s.log.Debug("socket: connected", "local", nc.LocalAddr().String())
	return newConn(nc), nil
}

// netError returns err, from op, as a retryable error, or as ctx's error
// if ctx is done (the flush is being given up). It counts the failure.
func (s *sender) netError(ctx context.Context, op, cause string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("socket: %s: %w", op, ctx.Err())
	}
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		cause = "timeout"
	}
	s.failed(cause)
	return sluice.Retryable(fmt.Errorf("socket: %s: %w", op, err))
}

func (s *sender) failed(cause string) {
	if s.hooks.Failed != nil {
		s.hooks.Failed(cause)
	}
}

// conn is a connection and the goroutine that reads from it, which
// notices when the peer closes or resets it.
type conn struct {
	nc   net.Conn      // a *net.TCPConn or a *tls.Conn
	done chan struct{} // closed when read returns: the peer closed or reset the connection, or we closed it
	err  error         // why read returned; set before done is closed
}

// newConn starts c's reader; [conn.close] waits for it.
func newConn(nc net.Conn) *conn {
	c := &conn{nc: nc, done: make(chan struct{})}
	go c.read()
	return c
}

// read discards what the peer sends until the connection fails or is
// closed. A syslog receiver sends nothing; a TLS server may send session
// tickets, which tls.Conn handles as it reads.
func (c *conn) read() {
	defer close(c.done)
	buf := make([]byte, 512)
	for {
		if _, err := c.nc.Read(buf); err != nil {
			c.err = err
			return
		}
	}
}

// close closes the connection and waits for its reader to return.
func (c *conn) close() {
	_ = c.nc.Close()
	<-c.done
}

// aLongTimeAgo is a deadline in the past, which interrupts a write.
var aLongTimeAgo = time.Unix(1, 0)

// write writes b whole within timeout, or returns an error; it returns
// at once, writing nothing, if ctx is done, and is interrupted when ctx is
// done during the write.
func (c *conn) write(ctx context.Context, b []byte, timeout time.Duration) error {
	if err := c.nc.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = c.nc.SetWriteDeadline(aLongTimeAgo)
		close(interrupted)
	})
	var err error
	if err = ctx.Err(); err == nil {
		_, err = c.nc.Write(b)
	}
	if !stop() {
		<-interrupted
	}
	return err
}

// Interface guards.
var (
	_ sluice.Destination[event.Event] = (*Destination)(nil)
	_ sluice.Runner                   = (*Destination)(nil)
)
