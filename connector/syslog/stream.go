package syslog

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/connector/syslog/framing"
)

// conn is one served stream connection.
type conn struct {
	c   net.Conn // what frames are read from: a *tls.Conn with TLS
	raw net.Conn // the socket under c: closing it ends a read at once
	// waiting is when the handler began to wait in a read that has not
	// returned yet, in Unix nanoseconds; 0 while it is not reading (it
	// parses, or is pushed back by a full queue).
	waiting atomic.Int64
	evicted atomic.Bool
}

func newConn(c net.Conn) *conn {
	raw := c
	if tc, ok := c.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	return &conn{c: c, raw: raw}
}

// conns is the set of served connections. Its methods are safe for
// concurrent use.
type conns struct {
	mu  sync.Mutex
	set map[*conn]struct{}
}

// add adds c if there are fewer than max connections. Otherwise it evicts
// the connection that has waited longest for data and adds c in its place,
// returning the evicted one and how long it waited; if none waits (all are
// pushed back), it returns ok false and adds nothing.
func (cs *conns) add(c *conn, max int, now time.Time) (evicted *conn, idle time.Duration, ok bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if len(cs.set) >= max {
		var since int64
		evicted, since = cs.longestIdle()
		if evicted == nil {
			return nil, 0, false
		}
		idle = now.Sub(time.Unix(0, since))
		delete(cs.set, evicted)
		evicted.evicted.Store(true)
		evicted.raw.Close() // its handler returns, and removes nothing
	}
	cs.set[c] = struct{}{}
	return evicted, idle, true
}

// longestIdle returns the connection that has waited longest in a read,
// and since when, or nil if none waits. cs.mu is held.
func (cs *conns) longestIdle() (victim *conn, since int64) {
	for c := range cs.set {
		if w := c.waiting.Load(); w != 0 && (victim == nil || w < since) {
			victim, since = c, w
		}
	}
	return victim, since
}

func (cs *conns) remove(c *conn) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.set, c)
}

// closeAll closes every socket: their reads end and their handlers return.
func (cs *conns) closeAll() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for c := range cs.set {
		c.raw.Close()
	}
}

// accept serves stream connections until ctx is done, at most
// MaxConnections at once: a new one beyond evicts the longest idle.
func (s *Source) accept(ctx context.Context, ln net.Listener) {
	var wg sync.WaitGroup
	cs := &conns{set: map[*conn]struct{}{}}
	defer func() {
		cs.closeAll()
		wg.Wait()
	}()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.count.Error("accept")
			s.logs.Log(s.log, slog.LevelWarn, "accept", "err", err)
			select { // e.g. out of file descriptors: do not spin
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		c := newConn(nc)
		evicted, idle, ok := cs.add(c, s.cfg.MaxConnections, time.Now())
		if !ok {
			s.count.Error("too_many_connections")
			s.logs.Log(s.log, slog.LevelWarn, "connection refused: maxConnections reached and every connection is busy",
				"remote", hostOf(nc.RemoteAddr()), "max", s.cfg.MaxConnections)
			nc.Close()
			continue
		}
		if evicted != nil {
			s.count.Error("evicted")
			s.logs.Log(s.log, slog.LevelWarn, "connection evicted to make room for a new one: maxConnections reached",
				"remote", hostOf(evicted.c.RemoteAddr()), "idle", idle.Round(time.Millisecond).String(),
				"new", hostOf(nc.RemoteAddr()), "max", s.cfg.MaxConnections)
		}
		wg.Go(func() {
			defer func() {
				cs.remove(c)
				c.c.Close()
			}()
			s.serve(ctx, c)
		})
	}
}

// serve reads frames from one connection until it ends, fails, idles out,
// is evicted or ctx is done.
func (s *Source) serve(ctx context.Context, c *conn) {
	host := hostOf(c.c.RemoteAddr())
	if !s.handshake(ctx, c, host) {
		return
	}
	// Frames are stamped with the time of the read that completed them:
	// one clock read per read, not per frame.
	cr := &connReader{conn: c, idle: s.cfg.IdleTimeout}
	fr := framing.NewReader(cr, s.cfg.MaxMessageBytes)
	fr.Keep(arenaBlock) // frames are never overwritten: events point into them, uncopied
	// Events are queued in batches: at the latest before a read that may
	// block, so none waits for more input.
	var p collector = &pending{s: s}
	before := func() {}
	if s.runs != nil {
		l := &lines{s: s}
		fr.KeepFrom(arenaBlock, l.get) // runs are lent: buffers are reused
		p, before = l, l.reading
	}
	stopped := false
	fr.BeforeRead(func() {
		stopped = stopped || !p.flush(ctx)
		before()
	})
	defer p.flush(ctx)
	for {
		msg, truncated, err := fr.Next()
		if stopped {
			return
		}
		if err != nil {
			s.closed(ctx, c, host, err, fr.Partial())
			return
		}
		if !p.next(ctx, fr, msg, host, truncated, cr.at) {
			return
		}
	}
}

// handshakeTimeout bounds a TLS handshake (or idleTimeout, if shorter).
const handshakeTimeout = 10 * time.Second

// handshake completes c's TLS handshake, if it is TLS, within
// handshakeTimeout; a failure is counted as "tls_handshake" and logged.
// While it waits, c may be evicted like a connection waiting for data.
func (s *Source) handshake(ctx context.Context, c *conn, host string) bool {
	tc, ok := c.c.(*tls.Conn)
	if !ok {
		return true
	}
	now := time.Now()
	_ = tc.SetDeadline(now.Add(min(handshakeTimeout, s.cfg.IdleTimeout)))
	c.waiting.Store(now.UnixNano())
	err := tc.HandshakeContext(ctx)
	c.waiting.Store(0)
	_ = tc.SetDeadline(time.Time{})
	if err != nil && ctx.Err() == nil && !c.evicted.Load() {
		s.count.Error("tls_handshake")
		s.logs.Log(s.log, slog.LevelWarn, "TLS handshake failed", "remote", host, "err", err)
	}
	return err == nil
}

// closed logs and counts why a connection's stream ended, with the
// partial bytes of a frame it cut short.
func (s *Source) closed(ctx context.Context, c *conn, host string, err error, partial int) {
	var ne net.Error
	switch {
	case errors.Is(err, framing.ErrMalformedCount):
		s.count.Error("read")
		s.logs.Log(s.log, slog.LevelWarn, "connection closed: its framing is lost", "remote", host, "err", err)
		return
	case ctx.Err() != nil:
		// Shutting down: what was not read is not taken.
	case c.evicted.Load(): // logged by accept
	case errors.As(err, &ne) && ne.Timeout():
		s.count.Error("idle_timeout")
		s.logs.Log(s.log, slog.LevelInfo, "idle connection closed", "remote", host, "idleTimeout", s.cfg.IdleTimeout.String())
	case errors.Is(err, net.ErrClosed), isEOF(err):
	default:
		s.count.Error("read")
		s.logs.Log(s.log, slog.LevelWarn, "connection closed", "remote", host, "err", err)
	}
	if partial > 0 {
		s.count.Dropped("incomplete_frame", 1)
		s.logs.Log(s.log, slog.LevelWarn, "connection ended inside a frame: its partial message is dropped", "remote", host, "bytes", partial, "err", err)
	}
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// connReader reads a conn, each read bounded by idle, and records when
// its last read returned, and while it waits.
type connReader struct {
	*conn
	idle time.Duration
	at   time.Time
}

func (r *connReader) Read(p []byte) (int, error) {
	now := time.Now()
	if err := r.c.SetReadDeadline(now.Add(r.idle)); err != nil {
		return 0, err
	}
	r.waiting.Store(now.UnixNano())
	n, err := r.c.Read(p)
	r.waiting.Store(0)
	r.at = time.Now()
	return n, err
}

func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	if s := a.String(); s != "" && s != "@" {
		return s
	}
	return "unix"
}
