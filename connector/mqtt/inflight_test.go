package mqtt

import (
	"slices"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// fakeMsg is a received message for inflight's tests.
type fakeMsg struct {
	paho.Message
	id             uint16
	topic, payload string
	acks           int
	ack            func()
}

func (m *fakeMsg) MessageID() uint16 { return m.id }
func (m *fakeMsg) Topic() string     { return m.topic }
func (m *fakeMsg) Payload() []byte   { return []byte(m.payload) }
func (m *fakeMsg) Ack() {
	m.acks++
	if m.ack != nil {
		m.ack()
	}
}

func isOpen() bool { return true }

// Which DUP messages inflight takes for copies: only those that cannot be
// a new message reusing the packet id.
func TestResent(t *testing.T) {
	for _, tc := range []struct {
		name string
		// between runs after the original (id 7, "t", "x") arrived on the
		// first connection and before the copy arrives.
		between func(f *inflight, p *pending)
		copy    fakeMsg
		want    bool
	}{
		{"held, next connection", reconnect(1), fakeMsg{id: 7, topic: "t", payload: "x"}, true},
		{"held, same connection", reconnect(0), fakeMsg{id: 7, topic: "t", payload: "x"}, true},
		{"held, failed attempts between", reconnect(3), fakeMsg{id: 7, topic: "t", payload: "x"}, true},
		{"held, other payload", reconnect(1), fakeMsg{id: 7, topic: "t", payload: "y"}, false},
		{"held, other topic", reconnect(1), fakeMsg{id: 7, topic: "u", payload: "x"}, false},
		{"held, other id", reconnect(1), fakeMsg{id: 8, topic: "t", payload: "x"}, false},
		{"held, a connection made between", func(f *inflight, p *pending) {
			reconnect(1)(f, p) // the session may have been lost there
			reconnect(1)(f, p)
		}, fakeMsg{id: 7, topic: "t", payload: "x"}, false},
		{"acked after the connection was lost", func(f *inflight, p *pending) {
			f.reconnecting()
			f.done(p) // paho drops this PUBACK
			f.connected()
		}, fakeMsg{id: 7, topic: "t", payload: "x"}, true},
		{"acked while connected", func(f *inflight, p *pending) {
			f.done(p) // the PUBACK may have reached the broker, and the id been reused
			reconnect(1)(f, p)
		}, fakeMsg{id: 7, topic: "t", payload: "x"}, false},
		{"acked after the connection was lost, a connection made between", func(f *inflight, p *pending) {
			f.reconnecting()
			f.done(p)
			f.connected()
			reconnect(1)(f, p)
		}, fakeMsg{id: 7, topic: "t", payload: "x"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newInflight(4)
			stop := make(chan struct{})
			orig := &fakeMsg{id: 7, topic: "t", payload: "x"}
			f.connected()
			p := f.add(orig, stop, isOpen)
			tc.between(f, p)
			origAcks := orig.acks
			c := tc.copy
			if got := f.resent(&c, stop, isOpen); got != tc.want {
				t.Fatalf("resent = %v, want %v", got, tc.want)
			}
			if !tc.want {
				return
			}
			f.done(p)
			if orig.acks != origAcks || c.acks != 1 || f.len() != 0 {
				t.Errorf("PUBACKs: original %d more, copy %d, %d in flight; want the copy's once, none in flight", orig.acks-origAcks, c.acks, f.len())
			}
			if len(f.slots) != 0 {
				t.Errorf("%d slots taken, want 0", len(f.slots))
			}
		})
	}
}

// reconnect returns a step that loses the connection and makes a new one
// after n attempts (0: none, the copy comes on the same connection).
func reconnect(n int) func(*inflight, *pending) {
	return func(f *inflight, _ *pending) {
		for range n {
			f.reconnecting()
		}
		if n > 0 {
			f.connected()
		}
	}
}

// The in-flight queue acknowledges in order whatever the order of acks,
// from many goroutines, and holds at most its limit.
func TestInflightOrder(t *testing.T) {
	const n = 2000
	f := newInflight(64)
	var mu sync.Mutex
	var sent []int
	acks := make(chan func(), n)
	stop := make(chan struct{})
	go func() {
		for i := range n {
			p := f.add(&fakeMsg{ack: func() { mu.Lock(); sent = append(sent, i); mu.Unlock() }}, stop, isOpen)
			acks <- func() { f.done(p) }
		}
		close(acks)
	}()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for a := range acks {
				if f.len() > 64 {
					t.Errorf("%d in flight, limit 64", f.len())
				}
				time.Sleep(time.Duration(len(acks)%3) * time.Microsecond)
				a()
				a() // a second ack does nothing
			}
		})
	}
	wg.Wait()
	if len(sent) != n || !slices.IsSorted(sent) {
		t.Fatalf("PUBACKs went out as %d in order %v..., want %d in order", len(sent), sent[:min(10, len(sent))], n)
	}
	close(stop)
	if p := f.add(&fakeMsg{}, stop, isOpen); p != nil && f.len() > 64 {
		t.Error("add past the limit with stop closed")
	}
}

// A copy of a lost one that cannot be PUBACKed on its connection either
// (no slot before that connection was lost too) is still taken for a
// copy on the next one, and PUBACKed there.
func TestResentLostTwice(t *testing.T) {
	f := newInflight(2)
	stop := make(chan struct{})
	orig := &fakeMsg{id: 7, topic: "t", payload: "x"}
	f.connected()
	p := f.add(orig, stop, isOpen)
	f.reconnecting()
	f.done(p) // paho drops this PUBACK
	f.connected()
	held := []*pending{ // take both slots
		f.add(&fakeMsg{id: 8, topic: "t", payload: "y"}, stop, isOpen),
		f.add(&fakeMsg{id: 9, topic: "t", payload: "z"}, stop, isOpen),
	}
	first := &fakeMsg{id: 7, topic: "t", payload: "x"}
	if !f.resent(first, stop, func() bool { return false }) {
		t.Fatal("first copy not taken for a copy")
	}
	if first.acks != 0 {
		t.Fatal("first copy PUBACKed without a slot")
	}
	f.reconnecting()
	f.connected()
	f.done(held[0]) // frees a slot; its PUBACK went nowhere (lost, with the first copy: 2, the bound)
	second := &fakeMsg{id: 7, topic: "t", payload: "x"}
	if !f.resent(second, stop, isOpen) {
		t.Fatal("second copy not taken for a copy")
	}
	if second.acks != 0 {
		t.Error("second copy PUBACKed before the message received before it")
	}
	f.done(held[1])
	if second.acks != 1 || f.len() != 0 || len(f.slots) != 0 {
		t.Errorf("second copy PUBACKed %d times, %d in flight, %d slots taken; want 1, 0, 0", second.acks, f.len(), len(f.slots))
	}
}
