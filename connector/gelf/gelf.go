package gelf

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/internal/store"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/defaults"
	"github.com/sluicehq/sluice/retry"
)

// Destination sends events to a Graylog GELF input. It is a
// [sluice.Runner]: batches are sent while Run runs. Run dials the input
// first (retrying with back-off for as long as ctx lasts, while Sends are
// buffered) and closes its connections when it returns; a second call
// returns [sluice.ErrAlreadyRunning]. Send is safe for concurrent use.
// The package doc says when an event is acked.
type Destination struct {
	*store.Destination
	w *writer
}

// Option configures a Destination with what cannot be serialised.
type Option = store.Option

// Hooks are called as batches are written, for metrics (see
// [store.Hooks]): Written after each batch is written, with its events,
// bytes (after compression) and duration; Failed with the cause of each
// failure: "dial", "write", "too_large" or "peer_closed" (an idle TCP
// connection the input had closed, replaced before a batch was written).
type Hooks = store.Hooks

// WithLogger sets the logger for retries and refused events. It never
// receives an event. Default: discard.
func WithLogger(l *slog.Logger) Option { return store.WithLogger(l) }

// WithDeadLetter sends the events that cannot be sent (a UDP message over
// 128 chunks), or that ran out of retries, to d with an "error"
// attribute; they are acked when d acks them. Default, or a nil d: such
// an event stops Run.
func WithDeadLetter(d sluice.Destination[event.Event]) Option {
	return store.WithDeadLetter(d)
}

// WithHooks sets the metrics hooks. Default: none.
func WithHooks(h Hooks) Option { return store.WithHooks(h) }

// New returns a Destination sending to c.ServiceAddr. Zero fields of c
// take the defaults of [DefaultConfig]. It checks c and does no I/O.
func New(c Config, opts ...Option) (*Destination, error) {
	defaults.Fill(&c, DefaultConfig())
	if c.Host == "" {
		c.Host, _ = os.Hostname()
		if c.Host == "" {
			c.Host = "sluiced"
		}
	}
	if err := config.Required("gelf", config.Field{Path: "serviceAddr", Empty: c.ServiceAddr == ""}); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("gelf: %w", err)
	}
	w := &writer{cfg: c, o: store.Apply(opts), conns: make(chan conn, c.Batch.Parallelism+1)}
	if _, err := rand.Read(w.idBase[:]); err != nil {
		return nil, fmt.Errorf("gelf: %w", err)
	}
	d, err := store.New("gelf", c.Batch, w.flush, w.o, store.RawSize, w.start)
	if err != nil {
		return nil, err
	}
	return &Destination{Destination: d, w: w}, nil
}

// start reads the TLS files, then dials the input until it answers or
// ctx is done.
func (w *writer) start(ctx context.Context) (func(), error) {
	if w.cfg.TLS != nil {
		tc, err := w.cfg.TLS.Config()
		if err != nil {
			return nil, fmt.Errorf("gelf: %w", err)
		}
		if tc == nil {
			tc = &tls.Config{} // the system's roots
		}
		w.tls = tc
	}
	return w.closeAll, retry.DoNotify(ctx, w.cfg.Batch.Retry, nil, func(ctx context.Context) error {
		c, err := w.dial(ctx)
		if err == nil {
			w.release(c)
		}
		return err
	}, func(attempt int, delay time.Duration, err error) {
		w.o.Log.Warn("gelf: dial failed, retrying", "attempt", attempt, "delay", delay, "err", err)
	})
}

// writer writes one batch per flush on a connection of its own.
type writer struct {
	cfg    Config
	o      store.Options
	conns  chan conn   // idle connections
	tls    *tls.Config // nil: plain TCP; set by start
	noGSO  atomic.Bool // the kernel refused UDP segmentation
	idBase [8]byte
	seq    atomic.Uint64
	pool   sync.Pool // *scratch
}

// conn is a connection to the input: a net.Conn, or on Linux a UDP
// socket of the writer's own (see udpConn).
type conn interface {
	io.WriteCloser
	SetWriteDeadline(time.Time) error
}

func (w *writer) dial(ctx context.Context) (conn, error) {
	d := net.Dialer{Timeout: w.cfg.Timeout}
	var c conn
	var err error
	switch {
	case w.cfg.Network == "udp":
		c, err = dialUDP(ctx, &d, w.cfg.ServiceAddr)
	default:
		var nc net.Conn
		if w.tls != nil {
			// The handshake is done here, within the timeout: a server
			// that is not trusted is a failed dial.
			nc, err = (&tls.Dialer{NetDialer: &d, Config: w.tls}).DialContext(ctx, "tcp", w.cfg.ServiceAddr)
		} else {
			nc, err = d.DialContext(ctx, w.cfg.Network, w.cfg.ServiceAddr)
		}
		if err == nil {
			c = newTCPConn(nc)
		}
	}
	if err != nil {
		w.failed("dial")
		return nil, sluice.Retryable(fmt.Errorf("gelf: dial %s %s: %w", w.cfg.Network, w.cfg.ServiceAddr, err))
	}
	return c, nil
}

// release keeps c for the next flush, or closes it if enough are kept.
func (w *writer) release(c conn) {
	select {
	case w.conns <- c:
	default:
		c.Close()
	}
}

func (w *writer) closeAll() {
	for {
		select {
		case c := <-w.conns:
			c.Close()
		default:
			return
		}
	}
}

type scratch struct {
	msg  []byte // one message's JSON
	buf  []byte // TCP: the batch's frames
	z    bytes.Buffer
	gz   *gzip.Writer
	zl   *zlib.Writer
	pkt  []byte
	dead []store.Rejected
	// UDP datagrams waiting to be sent: back to back, datagram k ending
	// at ends[k], of message owner[k].
	dgrams []byte
	ends   []int
	owner  []int
	pad    []bool
	bw     batchWriter
}

// flush writes msgs, retrying with back-off: over TCP the whole batch
// again on a new connection, over UDP from the first message not sent.
func (w *writer) flush(ctx context.Context, msgs []sluice.Message[event.Event]) error {
	s, _ := w.pool.Get().(*scratch)
	if s == nil {
		s = new(scratch)
	}
	defer w.pool.Put(s)
	s.dead = s.dead[:0]
	start, next, bytes := time.Now(), 0, 0
	attempts, retryable := 0, false
	err := retry.DoNotify(ctx, w.cfg.Batch.Retry, nil, func(ctx context.Context) error {
		attempts++
		var c conn
		var err error
		select {
		case c = <-w.conns:
			if !open(c) {
				// The input closed it while idle (see tcpConn).
				w.failed("peer_closed")
				c.Close()
				if c, err = w.dial(ctx); err != nil {
					retryable = true
					return err
				}
			}
		default:
			if c, err = w.dial(ctx); err != nil {
				retryable = true
				return err
			}
		}
		var n int
		if w.cfg.Network == "tcp" {
			n, err = w.writeTCP(c, s, msgs)
		} else {
			n, err = w.writeUDP(c, s, msgs, &next)
		}
		bytes += n
		if err != nil {
			c.Close()
			w.failed("write")
			retryable = true
			return sluice.Retryable(fmt.Errorf("gelf: write %s %s: %w", w.cfg.Network, w.cfg.ServiceAddr, err))
		}
		w.release(c)
		return nil
	}, func(attempt int, delay time.Duration, err error) {
		w.o.Log.Warn("gelf: write failed, retrying", "attempt", attempt, "delay", delay, "err", err)
	})
	switch {
	case err == nil:
		if w.o.Hooks.Written != nil {
			w.o.Hooks.Written(len(msgs)-len(s.dead), bytes, time.Since(start))
		}
	case ctx.Err() != nil:
		return err
	case retryable:
		// Out of retries: what was not written goes to the dead letter
		// (over TCP, the whole batch: a failed write may have sent any part).
		for i := next; i < len(msgs); i++ {
			s.dead = append(s.dead, store.Rejected{I: i, Reason: err.Error()})
		}
	default:
		return err
	}
	if len(s.dead) == 0 {
		return nil
	}
	return store.DeadLetterRejected(ctx, "gelf", "events refused", &w.o, msgs, s.dead, attempts)
}

// writeTCP writes every message as a NUL-terminated frame, in one write.
func (w *writer) writeTCP(c conn, s *scratch, msgs []sluice.Message[event.Event]) (int, error) {
	s.buf = s.buf[:0]
	for i := range msgs {
		s.buf = appendMessage(s.buf, &msgs[i].Value, w.cfg.Host)
		s.buf = append(s.buf, 0)
	}
	_ = c.SetWriteDeadline(time.Now().Add(w.cfg.Timeout))
	return c.Write(s.buf)
}

// writeUDP sends msgs[*next:], advancing *next past each message sent;
// a message over 128 chunks is refused. Datagrams go out up to 64 per
// system call (sendmmsg).
func (w *writer) writeUDP(c conn, s *scratch, msgs []sluice.Message[event.Event], next *int) (int, error) {
	n := 0
	_ = c.SetWriteDeadline(time.Now().Add(w.cfg.Timeout))
	bw := &s.bw
	bw.reset(c, &w.noGSO)
	defer bw.reset(nil, nil) // keep no connection in the pool
	s.dgrams, s.ends, s.owner, s.pad = s.dgrams[:0], s.ends[:0], s.owner[:0], s.pad[:0]
	send := func() error {
		sent, err := bw.write(s.dgrams, s.ends, s.pad)
		if err != nil {
			*next = s.owner[sent] // the first message not wholly sent
			// The retry starts there: it refuses again what was refused
			// from there on.
			for len(s.dead) > 0 && s.dead[len(s.dead)-1].I >= *next {
				s.dead = s.dead[:len(s.dead)-1]
			}
			return err
		}
		n += len(s.dgrams)
		s.dgrams, s.ends, s.owner, s.pad = s.dgrams[:0], s.ends[:0], s.owner[:0], s.pad[:0]
		return nil
	}
	start := *next
	for i := start; i < len(msgs); i++ {
		// The message is written where its datagram goes; one that must
		// be compressed or chunked is moved out.
		from := len(s.dgrams)
		s.dgrams = appendMessage(s.dgrams, &msgs[i].Value, w.cfg.Host)
		size := len(s.dgrams) - from
		compress := w.cfg.Compression != "none" && (w.cfg.Compression != "auto" || size > w.cfg.ChunkSize)
		if !compress && size <= w.cfg.ChunkSize {
			// JSON may take trailing spaces.
			s.ends, s.owner, s.pad = append(s.ends, len(s.dgrams)), append(s.owner, i), append(s.pad, true)
			if len(s.ends) >= 64 {
				if err := send(); err != nil {
					return n, err
				}
			}
			continue
		}
		s.msg = append(s.msg[:0], s.dgrams[from:]...)
		s.dgrams = s.dgrams[:from]
		payload := s.msg
		if compress {
			var err error
			if payload, err = s.compress(w.cfg.Compression); err != nil {
				return n, err
			}
		}
		if len(payload) <= w.cfg.ChunkSize {
			// A JSON message may take trailing spaces; a compressed one
			// may not.
			s.add(payload, i, len(payload) > 0 && payload[0] == '{')
		} else {
			per := w.cfg.ChunkSize - chunkHeader
			count := (len(payload) + per - 1) / per
			if count > maxChunks {
				w.failed("too_large")
				s.dead = append(s.dead, store.Rejected{I: i, Reason: fmt.Sprintf("gelf: message of %d bytes needs %d UDP chunks of %d, more than %d", len(payload), count, w.cfg.ChunkSize, maxChunks)})
				continue
			}
			var id [8]byte
			binary.BigEndian.PutUint64(id[:], binary.BigEndian.Uint64(w.idBase[:])+w.seq.Add(1))
			for k := range count {
				s.pkt = append(s.pkt[:0], 0x1e, 0x0f)
				s.pkt = append(s.pkt, id[:]...)
				s.pkt = append(s.pkt, byte(k), byte(count))
				s.pkt = append(s.pkt, payload[k*per:min((k+1)*per, len(payload))]...)
				s.add(s.pkt, i, false)
			}
		}
		if len(s.ends) >= 64 {
			if err := send(); err != nil {
				return n, err
			}
		}
	}
	if len(s.ends) > 0 {
		if err := send(); err != nil {
			return n, err
		}
	}
	*next = len(msgs)
	return n, nil
}

// add queues datagram d of message i; pad says whether it may be sent
// with trailing spaces.
func (s *scratch) add(d []byte, i int, pad bool) {
	s.dgrams = append(s.dgrams, d...)
	s.ends = append(s.ends, len(s.dgrams))
	s.owner = append(s.owner, i)
	s.pad = append(s.pad, pad)
}

const (
	chunkHeader = 12 // magic (2), message id (8), sequence number, count
	maxChunks   = 128
)

// compress returns s.msg compressed as asked, valid until the next call.
func (s *scratch) compress(how string) ([]byte, error) {
	var zw io.WriteCloser
	s.z.Reset()
	switch how {
	case "gzip", "auto":
		if s.gz == nil {
			s.gz, _ = gzip.NewWriterLevel(&s.z, gzip.BestSpeed)
		} else {
			s.gz.Reset(&s.z)
		}
		zw = s.gz
	default:
		if s.zl == nil {
			s.zl, _ = zlib.NewWriterLevel(&s.z, zlib.BestSpeed)
		} else {
			s.zl.Reset(&s.z)
		}
		zw = s.zl
	}
	if _, err := zw.Write(s.msg); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return s.z.Bytes(), nil
}

func (w *writer) failed(cause string) {
	if w.o.Hooks.Failed != nil {
		w.o.Hooks.Failed(cause)
	}
}

// Interface guards.
var (
	_ sluice.Destination[event.Event] = (*Destination)(nil)
	_ sluice.Runner                   = (*Destination)(nil)
)
