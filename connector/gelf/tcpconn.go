package gelf

import (
	"crypto/tls"
	"net"
)

// tcpConn is a TCP (or TLS) connection and the goroutine that reads from
// it, which notices when the input closes or resets it. A GELF input
// sends nothing (a TLS server may send session tickets, which tls.Conn
// handles as it reads), so the read ends only when the connection does:
// when Graylog restarts or drops an idle client. A write on such a
// connection would still be taken by the kernel, answered with a reset,
// and its batch lost after it was acked; so an idle connection is checked
// with [open] before it is written to again.
type tcpConn struct {
	net.Conn
	done chan struct{} // closed when the reader returns
}

// newTCPConn starts c's reader; [tcpConn.Close] waits for it.
func newTCPConn(c net.Conn) *tcpConn {
	t := &tcpConn{Conn: c, done: make(chan struct{})}
	go t.read()
	return t
}

func (t *tcpConn) read() {
	defer close(t.done)
	buf := make([]byte, 512)
	for {
		if _, err := t.Conn.Read(buf); err != nil {
			return
		}
	}
}

// Close closes the connection and waits for its reader to return.
func (t *tcpConn) Close() error {
	err := t.Conn.Close()
	<-t.done
	return err
}

// open reports whether c, an idle connection, may still be written to:
// false for a TCP connection whose input closed or reset it, which its
// reader noticed, or which the socket holds and the reader was not woken
// for yet (a peek, on Unix). Anything else waiting to be read counts as
// a close too: over plain TCP a GELF input sends nothing, and over TLS a
// session ticket the reader has not taken yet costs one needless redial.
func open(c conn) bool {
	t, ok := c.(*tcpConn)
	if !ok {
		return true
	}
	select {
	case <-t.done:
		return false
	default:
	}
	nc := t.Conn
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	return !pending(nc)
}
