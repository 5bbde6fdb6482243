package mqtt

import (
	"sync"
	"sync/atomic"
)

// inflight keeps the messages received from the broker and not yet
// acknowledged to it, in the order received, and acknowledges them to the
// broker in that order: a message's PUBACK goes out once it and every
// message received before it were acked downstream (MQTT 3.1.1 §4.6 asks
// a client for PUBACKs in the order of the PUBLISHes).
//
// Locking: release serialises the acknowledgements, so that two callers
// cannot send them out of order; mu guards q and is never held while
// acknowledging. release is taken before mu.
type inflight struct {
	release sync.Mutex
	mu      sync.Mutex
	q       []*pending // oldest first
	slots   chan struct{}
}

// pending is one message in flight.
type pending struct {
	ack   func() // sends the PUBACK
	acked atomic.Bool
}

func newInflight(max int) *inflight {
	return &inflight{slots: make(chan struct{}, max)}
}

// add queues a message whose PUBACK ack sends, once a slot is free; stop
// ends the wait for a slot, and then add returns nil.
func (f *inflight) add(ack func(), stop <-chan struct{}) *pending {
	select {
	case f.slots <- struct{}{}:
	case <-stop:
		return nil
	}
	p := &pending{ack: ack}
	f.mu.Lock()
	f.q = append(f.q, p)
	f.mu.Unlock()
	return p
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
	f.mu.Unlock()
	for _, p := range done {
		p.ack()
		<-f.slots
	}
}

// len returns how many messages are in flight.
func (f *inflight) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.q)
}
