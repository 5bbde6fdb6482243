// Package connlimit bounds the connections a listener serves at once, the
// maxConnections of sluice's HTTP and gRPC sources: each connection holds
// a file descriptor, and a flood of them must not take the ones the rest
// of sluiced (files, spools) needs.
//
// Past the limit, a new connection is closed as soon as it is accepted;
// with [Listener.EvictWaiting] installed as an http.Server's ConnState, it first
// takes the place of the connection that has waited longest for a request
// (an idle keep-alive connection, or one that has sent nothing yet), and
// is closed only if none waits. Either way the Refused or Evicted hook is
// called, for the source to count and log it.
package connlimit

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

// Listener is a net.Listener that hands out at most max connections at
// once. Its methods are safe for concurrent use.
type Listener struct {
	net.Listener
	max int
	// Refused is called with a new connection's remote address when it
	// was closed because max connections are open and none waits.
	Refused func(remote net.Addr)
	// Evicted is called when an open connection, waiting since idle, was
	// closed to make room for a new one.
	Evicted func(remote net.Addr, idle time.Duration)

	mu    sync.Mutex
	conns map[*conn]struct{}
	evict bool // ConnState is installed: waiting connections may be evicted
}

// New returns ln bounded to max connections at once (max >= 1).
func New(ln net.Listener, max int) *Listener {
	return &Listener{Listener: ln, max: max, conns: map[*conn]struct{}{},
		Refused: func(net.Addr) {}, Evicted: func(net.Addr, time.Duration) {}}
}

// conn is a connection handed out; it leaves the set when closed.
type conn struct {
	net.Conn
	l       *Listener
	waiting time.Time // since when it waits for a request; zero while it is busy
	once    sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return err
}

// Accept returns the next connection within the limit; connections over
// it are closed here, never returned.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		now := time.Now()
		c := &conn{Conn: nc, l: l}
		l.mu.Lock()
		if l.evict {
			c.waiting = now // a new connection waits for its first request
		}
		var victim *conn
		if len(l.conns) >= l.max {
			for o := range l.conns {
				if !o.waiting.IsZero() && (victim == nil || o.waiting.Before(victim.waiting)) {
					victim = o
				}
			}
			if victim == nil {
				l.mu.Unlock()
				l.Refused(nc.RemoteAddr()) // counted before the sender sees it
				nc.Close()
				continue
			}
			delete(l.conns, victim)
		}
		l.conns[c] = struct{}{}
		l.mu.Unlock()
		if victim != nil {
			l.Evicted(victim.RemoteAddr(), now.Sub(victim.waiting)) // counted before the sender sees it
			victim.Conn.Close()                                     // its server sees the read fail and lets go of it
		}
		return c, nil
	}
}

// Open returns how many connections are open.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// EvictWaiting returns the hook to install as an http.Server's ConnState
// before it serves l: it marks a connection as waiting while it is new or
// idle and busy while a request is active, so that a connection over the
// limit evicts the longest waiting one.
func (l *Listener) EvictWaiting() func(net.Conn, http.ConnState) {
	l.mu.Lock()
	l.evict = true
	l.mu.Unlock()
	return l.connState
}

func (l *Listener) connState(nc net.Conn, st http.ConnState) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch st {
	case http.StateActive:
		c.waiting = time.Time{}
	case http.StateIdle:
		c.waiting = time.Now()
	}
}
