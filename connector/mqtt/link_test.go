package mqtt

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// link is a TCP proxy between a client and mosquitto that decodes every
// packet both ways with paho's packets, so that a test sees what the
// broker resends and which PUBACKs the client sends on which connection.
// cut closes every connection as a network fault would (no DISCONNECT:
// the broker keeps the session and what is in flight); while it is down,
// new connections are closed at once.
type link struct {
	t      *testing.T
	ln     net.Listener
	broker string

	mu       sync.Mutex
	conns    []net.Conn
	n        int // connections made, the first is 1
	down     bool
	refused  int
	dropAcks bool // PUBACKs from the client go no further
	holdAcks bool // PUBACKs from the broker go no further
	dropSubs bool // SUBACKs from the broker go no further
	packets  []packet
}

// packet is a PUBLISH or SUBACK from the broker or a PUBACK from the
// client, or (sent) a PUBLISH from the client.
type packet struct {
	conn    int // which connection
	publish bool
	sent    bool // a PUBLISH from the client
	suback  bool
	id      uint16
	dup     bool
	payload string
	dropped bool // a PUBACK or SUBACK kept from its receiver
}

func newLink(t *testing.T, brokerAddr string) (*link, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &link{t: t, ln: ln, broker: brokerAddr}
	t.Cleanup(func() { ln.Close(); l.cut(true) })
	go l.accept()
	return l, "tcp://" + ln.Addr().String()
}

func (l *link) accept() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		if l.down {
			l.refused++
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.mu.Unlock()
		b, err := net.Dial("tcp", l.broker)
		if err != nil {
			c.Close()
			continue
		}
		l.mu.Lock()
		l.n++
		n := l.n
		l.conns = append(l.conns, c, b)
		l.mu.Unlock()
		go l.pump(n, c, b, false)
		go l.pump(n, b, c, true)
	}
}

// pump copies packets from src to dst until either fails.
func (l *link) pump(n int, src, dst net.Conn, fromBroker bool) {
	defer src.Close()
	defer dst.Close()
	for {
		cp, err := packets.ReadPacket(src)
		if err != nil {
			return
		}
		drop := false
		l.mu.Lock()
		switch p := cp.(type) {
		case *packets.PublishPacket:
			if fromBroker {
				l.packets = append(l.packets, packet{conn: n, publish: true, id: p.MessageID, dup: p.Dup, payload: string(p.Payload)})
			} else {
				l.packets = append(l.packets, packet{conn: n, sent: true, id: p.MessageID, dup: p.Dup, payload: string(p.Payload)})
			}
		case *packets.PubackPacket:
			if !fromBroker {
				drop = l.dropAcks
				l.packets = append(l.packets, packet{conn: n, id: p.MessageID, dropped: drop})
			} else {
				drop = l.holdAcks
			}
		case *packets.SubackPacket:
			drop = l.dropSubs
			l.packets = append(l.packets, packet{conn: n, suback: true, id: p.MessageID, dropped: drop})
		}
		l.mu.Unlock()
		if drop {
			continue
		}
		if err := cp.Write(dst); err != nil {
			return
		}
	}
}

// cut closes every connection; down keeps new ones out until up.
func (l *link) cut(down bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = down
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

func (l *link) up() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = false
}

// seen returns the packets of connection n (all if n is 0).
func (l *link) seen(n int) []packet {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []packet
	for _, p := range l.packets {
		if n == 0 || p.conn == n {
			out = append(out, p)
		}
	}
	return out
}

// waitFor waits up to 60s for cond to hold on what the link has seen:
// generous, as paho's reconnection back-off doubles from 1s at each
// refused attempt, and a loaded machine may see several.
func (l *link) waitFor(what string, cond func(l *link) bool) {
	l.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		l.mu.Lock()
		ok := cond(l)
		l.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			l.mu.Lock()
			n, refused := l.n, l.refused
			l.mu.Unlock()
			l.t.Fatalf("not within 60s: %s; %d connections, %d refused; seen %+v", what, n, refused, l.seen(0))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// count returns how many packets of connection n match f; l.mu is held.
func (l *link) count(n int, f func(packet) bool) int {
	k := 0
	for _, p := range l.packets {
		if p.conn == n && f(p) {
			k++
		}
	}
	return k
}
