package mqtt

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/brokertest"
)

// After a connection is lost the broker resends, with DUP and the
// original packet ids (MQTT 3.1.1 §4.4), each message it has no PUBACK
// for. Each message must be handed on once all the same, and afterwards
// nothing may be left unacknowledged at the broker. The connection is cut
// between the source and mosquitto by a proxy that sees every PUBLISH and
// PUBACK, so each case also checks that the copies came (the case is
// real) and on which connection the PUBACKs went out.
func TestReconnectCopies(t *testing.T) {
	for _, tc := range []struct {
		name string
		// inflight is the source's MaxInflight; n messages are published.
		inflight, n int
		keepAlive   time.Duration // the source's, if set
		run         func(t *testing.T, l *link, s *Source) (got []string)
	}{{
		// The destination holds all three while the connection is cut:
		// the copies are dropped and the originals' acks settle them,
		// on the new connection.
		name: "held", inflight: 1000, n: 3,
		run: func(t *testing.T, l *link, s *Source) []string {
			got, acks := brokertest.Recv(t, s, 3, false)
			l.cut(false)
			l.waitFor("3 copies on a new connection", func(l *link) bool { return l.count(2, isCopy) == 3 })
			brokertest.Nothing(t, s, 500*time.Millisecond)
			for _, a := range acks {
				a()
			}
			l.waitFor("3 PUBACKs on the new connection", func(l *link) bool { return l.count(2, isPuback) == 3 })
			return got
		},
	}, {
		// The destination acks while the source is cut off: those PUBACKs
		// cannot go out, so the copies are acknowledged again.
		name: "acked while down", inflight: 1000, n: 3,
		run: func(t *testing.T, l *link, s *Source) []string {
			got, acks := brokertest.Recv(t, s, 3, false)
			l.cut(true)
			l.waitFor("a reconnection attempt", func(l *link) bool { return l.refused > 0 })
			for _, a := range acks {
				a()
			}
			l.up()
			l.waitFor("3 copies on a new connection", func(l *link) bool { return l.count(2, isCopy) == 3 })
			brokertest.Nothing(t, s, 500*time.Millisecond)
			l.waitFor("3 PUBACKs on the new connection", func(l *link) bool { return l.count(2, isPuback) == 3 })
			return got
		},
	}, {
		// The pipeline is stalled (MaxInflight held, paho's reader waits
		// for a slot) when the connection is lost, as after a keep-alive
		// timeout.
		name: "stalled", inflight: 2, n: 4, run: stall(4, true),
	}, {
		// The same stall, long enough for the keep-alive to end the
		// connection: the doc's "a long stall can end in a reconnect".
		// paho's reader stops, and reads no PINGRESP, once it holds a
		// PUBLISH that waits behind the handler and the one after it.
		name: "keep-alive", inflight: 2, n: 8, keepAlive: time.Second, run: stall(8, false),
	}, {
		// The PUBACKs went out and were lost on the way: the source cannot
		// tell these copies from new messages that reuse the ids (the
		// broker may, once it has a PUBACK), so it hands them on again.
		name: "PUBACK lost", inflight: 1000, n: 3,
		run: func(t *testing.T, l *link, s *Source) []string {
			l.mu.Lock()
			l.dropAcks = true
			l.mu.Unlock()
			got, _ := brokertest.Recv(t, s, 3, true)
			l.waitFor("3 PUBACKs kept from the broker", func(l *link) bool { return l.count(1, isPuback) == 3 })
			l.mu.Lock()
			l.dropAcks = false
			l.mu.Unlock()
			l.cut(false)
			again, _ := brokertest.Recv(t, s, 3, true)
			if !slices.Equal(again, got) {
				t.Fatalf("after the cut got %q, want %q again", again, got)
			}
			l.waitFor("3 PUBACKs on the new connection", func(l *link) bool { return l.count(2, isPuback) == 3 })
			return got
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			b, broker := mosquitto(t)
			l, via := newLink(t, b.Addr)
			session(t, broker, "copies", "copies/t")
			want := brokertest.Lines("m", tc.n)
			publish(t, broker, "copies/t", want...)
			s := newSource(t, via, "copies/t", "copies", func(c *SourceConfig) {
				c.MaxInflight = tc.inflight
				if tc.keepAlive > 0 {
					c.KeepAlive = tc.keepAlive
				}
			})
			stop := brokertest.Run(t, s)
			got := tc.run(t, l, s)
			if !slices.Equal(got, want) {
				t.Errorf("handed on %q, want each of %q once", got, want)
			}
			// The broker resent with the original ids, and each copy's
			// PUBACK went out with its id.
			first, second := l.seen(1), l.seen(2)
			for _, p := range second {
				if !p.publish {
					continue
				}
				if i := slices.IndexFunc(first, func(q packet) bool { return q.publish && q.payload == p.payload }); i >= 0 && (first[i].id != p.id || !p.dup) {
					t.Errorf("resent %+v; first sent as %+v", p, first[i])
				}
				if !slices.ContainsFunc(second, func(q packet) bool { return isPuback(q) && q.id == p.id }) {
					t.Errorf("no PUBACK for %+v on the new connection", p)
				}
			}
			time.Sleep(200 * time.Millisecond) // room for the last PUBACKs
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			// Nothing is left unacknowledged: the session gets nothing again.
			s = newSource(t, broker, "copies/t", "copies")
			brokertest.Run(t, s)
			brokertest.Nothing(t, s, time.Second)
		})
	}
}

// stall returns a case that takes the first 2 of n messages without
// acking them (MaxInflight 2: paho's reader waits for a slot) until the
// broker resent all n on a new connection (cut: the test cuts the
// connection), then acks and takes the rest.
func stall(n int, cut bool) func(t *testing.T, l *link, s *Source) []string {
	return func(t *testing.T, l *link, s *Source) []string {
		got, acks := brokertest.Recv(t, s, 2, false)
		if cut {
			l.waitFor("all sent", func(l *link) bool { return l.count(1, isPublish) == n })
			l.cut(false)
		}
		l.waitFor("every message resent on a new connection", func(l *link) bool { return l.count(2, isCopy) == n })
		for _, a := range acks {
			a()
		}
		more, _ := brokertest.Recv(t, s, n-2, true)
		brokertest.Nothing(t, s, 500*time.Millisecond)
		return append(got, more...)
	}
}

func isCopy(p packet) bool    { return p.publish && p.dup }
func isPublish(p packet) bool { return p.publish }
func isPuback(p packet) bool  { return !p.publish && !p.suback && !p.sent }
func isSuback(p packet) bool  { return p.suback }

// A connection lost before the SUBACK came is not fatal: Run goes on, and
// the next connection subscribes again. Until a SUBACK comes the source
// is connected but not ready: a first session is not subscribed, and what
// is published meanwhile is dropped by the broker.
func TestSubscribeLost(t *testing.T) {
	b, _ := mosquitto(t)
	l, via := newLink(t, b.Addr)
	l.mu.Lock()
	l.dropSubs = true
	l.mu.Unlock()
	s := newSource(t, via, "sublost/t", "sublost")
	stop := brokertest.Run(t, s)
	l.waitFor("a SUBACK kept from the source", func(l *link) bool { return l.count(1, isSuback) == 1 })
	if why := s.NotReady(); !strings.Contains(why, `not subscribed yet to topic "sublost/t"`) {
		t.Errorf("NotReady without a SUBACK = %q, want it to say the topic is not subscribed yet", why)
	}
	l.mu.Lock()
	l.dropSubs = false
	l.mu.Unlock()
	l.cut(false)
	l.waitFor("a SUBACK on a new connection", func(l *link) bool { return l.count(2, isSuback) == 1 })
	brokertest.WaitReady(t, s)
	pub(t, b.Addr, "sublost/t", "after")
	if got, _ := brokertest.Recv(t, s, 1, true); got[0] != "after" {
		t.Fatalf("got %q", got)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
