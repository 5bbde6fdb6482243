package mqtt

import (
	"bytes"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// inflight keeps the messages received from the broker and not yet
// acknowledged to it, in the order received, and acknowledges them to the
// broker in that order: a message's PUBACK goes out once it and every
// message received before it were acked downstream (MQTT 3.1.1 §4.6 asks
// a client for PUBACKs in the order of the PUBLISHes).
//
// It also recognises the copies the broker resends, with DUP and the
// original packet id, after a reconnection (§4.4) of messages it has no
// PUBACK for (see resent). paho sends a message's PUBACK only on the
// connection the message came on, and drops it once that connection is
// gone.
//
// Locking: release serialises the acknowledgements, so that two callers
// cannot send them out of order; mu guards q, lost, cur, prev and each
// pending's m and conn while it is in q or lost. mu is never held while
// acknowledging. release is taken before mu.
type inflight struct {
	release sync.Mutex
	mu      sync.Mutex
	q       []*pending // oldest first
	slots   chan struct{}
	// conn numbers the connections: reconnecting adds one before each
	// attempt. paho calls it only once the last connection's goroutines
	// have stopped, so a PUBACK handed to paho after the count moved past
	// its message's connection went nowhere.
	conn atomic.Uint64
	// cur and prev are the last two connections known to have been made
	// (a message came on it, or paho reported it up).
	cur, prev uint64
	// lost holds the messages acked after their connection was gone,
	// newest last, at most cap(slots): their PUBACKs went nowhere.
	lost []*pending
}

// pending is one message in flight.
type pending struct {
	m     paho.Message // as last received: its Ack sends the PUBACK on the connection it came on
	conn  uint64       // that connection
	acked atomic.Bool
}

// slotWait is how often a message waiting for a slot checks that its
// connection is still open.
const slotWait = 100 * time.Millisecond

func newInflight(max int) *inflight {
	return &inflight{slots: make(chan struct{}, max)}
}

// add queues m once a slot is free; stop ends the wait for a slot, and so
// does a connection that open reports lost (paho stops the connection only
// once the handler returns). Then add returns nil: m was not acknowledged
// and the broker sends it again.
func (f *inflight) add(m paho.Message, stop <-chan struct{}, open func() bool) *pending {
	select {
	case f.slots <- struct{}{}:
	default:
		if !f.waitSlot(stop, open) {
			return nil
		}
	}
	p := &pending{m: m, conn: f.conn.Load()}
	f.mu.Lock()
	if p.conn != f.cur {
		f.made(p.conn)
	}
	f.q = append(f.q, p)
	f.mu.Unlock()
	return p
}

func (f *inflight) waitSlot(stop <-chan struct{}, open func() bool) bool {
	t := time.NewTicker(slotWait)
	defer t.Stop()
	for {
		select {
		case f.slots <- struct{}{}:
			return true
		case <-stop:
			return false
		case <-t.C:
			if !open() {
				return false
			}
		}
	}
}

// reconnecting records that paho is about to make a new connection.
func (f *inflight) reconnecting() { f.conn.Add(1) }

// connected records that paho reported the current connection up. paho
// reports it from a goroutine of its own: a connection that delivered
// nothing and ended before that goroutine ran is not known as made, and
// a copy on the next one may then be matched to a message from before it.
// For that to lose a message, the broker must also have lost the session
// on that connection, reused an id for a message with the same topic and
// payload, and sent it without it arriving.
func (f *inflight) connected() {
	f.mu.Lock()
	f.made(f.conn.Load())
	f.mu.Unlock()
}

// made records that connection c was made; f.mu is held.
func (f *inflight) made(c uint64) {
	if c <= f.cur {
		return
	}
	f.prev, f.cur = f.cur, c
	n := 0
	for _, p := range f.lost { // copies of the others cannot come any more
		if p.conn >= f.prev {
			f.lost[n] = p
			n++
		}
	}
	clear(f.lost[n:])
	f.lost = f.lost[:n]
}

// resent handles m, a message the broker marked DUP, and reports whether
// it is a copy, not to hand on.
//
// A copy has the packet id, topic and payload of a message received on
// this connection or the one before, and either still in flight (q:
// its PUBACK was not sent, so the broker cannot have reused the id) or
// acked after its connection was gone (lost: its PUBACK went nowhere).
// The message in flight takes the copy's place, so that its PUBACK goes
// out on this connection; a copy of a lost one is queued already acked,
// so that its PUBACK goes out in its turn (waiting for a slot as add
// does). A message whose PUBACK was sent while its connection was up is
// not matched: it may have reached the broker, which may then have
// reused the id for another message. Nor is one from before the last
// two connections: the session may have been lost in between, and the
// ids with it.
func (f *inflight) resent(m paho.Message, stop <-chan struct{}, open func() bool) bool {
	c := f.conn.Load()
	f.mu.Lock()
	if c != f.cur {
		f.made(c)
	}
	for i := len(f.q) - 1; i >= 0; i-- {
		if p := f.q[i]; p.conn >= f.prev && same(p.m, m) {
			p.m, p.conn = m, c
			f.mu.Unlock()
			return true
		}
	}
	i := len(f.lost) - 1
	for i >= 0 && !(f.lost[i].conn == f.prev && same(f.lost[i].m, m)) {
		i--
	}
	if i < 0 {
		f.mu.Unlock()
		return false
	}
	lost := f.lost[i]
	f.lost = append(f.lost[:i], f.lost[i+1:]...)
	f.mu.Unlock()
	if p := f.add(m, stop, open); p != nil {
		f.done(p)
		return true
	}
	// Not acknowledged on this connection either: a copy may come on the next.
	lost.m, lost.conn = m, c
	f.mu.Lock()
	f.lost = append(f.lost, lost)
	f.mu.Unlock()
	return true
}

func same(a, b paho.Message) bool {
	return a.MessageID() == b.MessageID() && a.Topic() == b.Topic() && bytes.Equal(a.Payload(), b.Payload())
}

// done records that p was acked downstream and sends the PUBACKs that
// are due. It reports whether this was p's first ack.
func (f *inflight) done(p *pending) bool {
	if !p.acked.CompareAndSwap(false, true) {
		return false
	}
	f.flush()
	return true
}

// flush acknowledges the acked prefix of the queue, in order.
func (f *inflight) flush() {
	f.release.Lock()
	defer f.release.Unlock()
	f.mu.Lock()
	n := 0
	for n < len(f.q) && f.q[n].acked.Load() {
		n++
	}
	done := f.q[:n:n]
	f.q = f.q[n:]
	if len(f.q) == 0 {
		f.q = nil // let the backing array go
	}
	c := f.conn.Load() // before the PUBACKs are handed to paho
	for _, p := range done {
		if p.conn < c {
			if len(f.lost) >= cap(f.slots) {
				f.lost = append(f.lost[:0], f.lost[1:]...)
			}
			f.lost = append(f.lost, p)
		}
	}
	f.mu.Unlock()
	for _, p := range done {
		p.m.Ack()
		<-f.slots
	}
}

// len returns how many messages are in flight.
func (f *inflight) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.q)
}
