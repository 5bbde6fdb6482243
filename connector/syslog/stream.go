package syslog

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connector/syslog/framing"
)

// accept serves stream connections until ctx is done, at most
// MaxConnections at once.
func (s *Source) accept(ctx context.Context, ln net.Listener) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
	)
	defer func() {
		mu.Lock()
		for c := range conns {
			_ = c.SetReadDeadline(time.Now()) // ends the read; the handler closes
		}
		mu.Unlock()
		wg.Wait()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.count.Error("accept")
			s.log.Warn("accept", "err", err)
			select { // e.g. out of file descriptors: do not spin
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		mu.Lock()
		if len(conns) >= s.cfg.MaxConnections {
			mu.Unlock()
			s.count.Error("too_many_connections")
			s.log.Warn("connection refused: maxConnections reached", "remote", c.RemoteAddr().String(), "max", s.cfg.MaxConnections)
			c.Close()
			continue
		}
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Go(func() {
			defer func() {
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				c.Close()
			}()
			s.serve(ctx, c)
		})
	}
}

// serve reads frames from one connection until it ends, fails, idles out
// or ctx is done.
func (s *Source) serve(ctx context.Context, c net.Conn) {
	host := hostOf(c.RemoteAddr())
	var r net.Conn = c
	if s.cfg.IdleTimeout > 0 {
		r = idleConn{c, s.cfg.IdleTimeout}
	}
	// Frames are stamped with the time of the read that completed them:
	// one clock read per read, not per frame.
	tr := &timedReader{r: r}
	fr := framing.NewReader(tr, s.cfg.MaxMessageBytes)
	fr.Keep(arenaBlock) // frames are never overwritten: events point into them, uncopied
	// Events are queued in batches: at the latest before a read that may
	// block, so none waits for more input.
	p := pending{s: s}
	stopped := false
	fr.BeforeRead(func() { stopped = stopped || !p.flush(ctx) })
	defer p.flush(ctx)
	for {
		msg, truncated, err := fr.Next()
		if stopped {
			return
		}
		if err != nil {
			var ne net.Error
			switch {
			case ctx.Err() != nil, errors.Is(err, net.ErrClosed), isEOF(err):
			case errors.As(err, &ne) && ne.Timeout():
				s.log.Info("idle connection closed", "remote", host)
			default:
				s.count.Error("read")
				s.log.Warn("connection closed", "remote", host, "err", err)
			}
			return
		}
		if !p.add(ctx, nil, msg, host, truncated, tr.at) {
			return
		}
	}
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// timedReader records when its last read returned.
type timedReader struct {
	r  io.Reader
	at time.Time
}

func (t *timedReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.at = time.Now()
	return n, err
}

// idleConn sets a read deadline before each read.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c idleConn) Read(p []byte) (int, error) {
	if err := c.SetReadDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
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
