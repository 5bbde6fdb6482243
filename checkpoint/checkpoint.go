// Package checkpoint tells a source with positions which position it may
// commit: file offsets, journald cursors, Kafka partition offsets.
//
// A source reads entries in order, but their acks arrive in any order. On
// restart it resumes after the position it committed, so it may commit an
// entry's position only once that entry and every entry before it were
// acked; committing further would lose the entries still in flight. A
// [Tracker] keeps the entries in flight and computes that low-watermark.
//
// A source tracks each entry in Recv, in input order, and hands out an ack
// for its sequence number; a committer reads [Tracker.Committed] on a timer
// or at shutdown and stores it:
//
//	seq := t.Track(offset) // offset: where to resume after this entry
//	return msg, t.AckFunc(seq), nil
//
//	if p, ok := t.Committed(); ok {
//		store(p)
//	}
//
// The position of an entry is the one to resume from once it is delivered,
// such as the offset just past a line or a Kafka offset plus one.
package checkpoint

import "sync"

// minCap is the smallest ring a Tracker keeps once it has one.
const minCap = 16

// Tracker follows entries in flight, in the order they were tracked, and
// reports the position of the longest acked prefix. Track and Ack take
// amortised constant time, and a Tracker in steady state allocates
// nothing.
//
// Memory follows the number of entries in flight. The ring of entries
// doubles when it is full. It shrinks when, for as many Tracks as it has
// room for, no more than a quarter of it was in use: a burst's memory is
// given back once traffic is back to normal, while a source that
// regularly has a window of entries in flight keeps its ring. A Tracker
// that sees no Track after a burst keeps its memory.
//
// A Tracker is safe for concurrent use. The zero value is ready to use and
// has committed nothing, like [New].
type Tracker[P any] struct {
	mu        sync.Mutex
	ring      []entry[P] // entries in Track order from head; len is 0 or a power of two ≥ minCap
	head      int        // index in ring of the oldest entry, which is never acked
	n         int        // entries in the ring
	base      uint64     // sequence number of ring[head], or of the next Track if n == 0
	tracks    int        // Tracks in this epoch, which ends after len(ring) Tracks
	peak      int        // largest n in this epoch
	committed P
	ok        bool // committed is set
}

type entry[P any] struct {
	pos   P
	acked bool
}

// New returns a Tracker that has committed nothing.
func New[P any]() *Tracker[P] { return &Tracker[P]{} }

// NewAt returns a Tracker whose committed position is p until an entry is
// committed, for a source that resumes from a stored position.
func NewAt[P any](p P) *Tracker[P] { return &Tracker[P]{committed: p, ok: true} }

// Track registers the next entry in flight, at position p, and returns its
// sequence number for [Tracker.Ack]. Sequence numbers start at 1 and grow
// by one per call; 0 is never one. The order of Track calls is the input
// order: p becomes committable once this entry and every entry tracked
// before it were acked.
func (t *Tracker[P]) Track(p P) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.base == 0 {
		t.base = 1
	}
	if t.n == len(t.ring) {
		t.resize(max(minCap, 2*len(t.ring)))
	}
	t.ring[(t.head+t.n)&(len(t.ring)-1)] = entry[P]{pos: p}
	t.n++
	seq := t.base + uint64(t.n-1)
	t.peak = max(t.peak, t.n)
	if t.tracks++; t.tracks >= len(t.ring) {
		if len(t.ring) > minCap && t.peak <= len(t.ring)/4 {
			t.resize(max(minCap, ceilPow2(2*t.peak)))
		}
		t.tracks, t.peak = 0, t.n
	}
	return seq
}

// Ack marks entry seq as acked and reports whether the committed position
// advanced, which happens when seq was the oldest entry in flight. Ack is
// idempotent: acking seq again, or a sequence number that was never
// returned by Track or is already committed, does nothing and returns
// false.
func (t *Tracker[P]) Ack(seq uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if seq < t.base || seq-t.base >= uint64(t.n) {
		return false
	}
	mask := len(t.ring) - 1
	e := &t.ring[(t.head+int(seq-t.base))&mask]
	if e.acked {
		return false
	}
	e.acked = true
	if seq != t.base {
		return false
	}
	for t.n > 0 && t.ring[t.head].acked {
		t.committed = t.ring[t.head].pos
		t.ring[t.head] = entry[P]{} // let go of what p refers to
		t.head = (t.head + 1) & mask
		t.n--
		t.base++
	}
	t.ok = true
	return true
}

// AckFunc returns a function that calls [Tracker.Ack](seq), for a source
// to return from Recv as the message's ack. Like Ack, it may be called
// more than once and from any goroutine.
func (t *Tracker[P]) AckFunc(seq uint64) func() {
	return func() { t.Ack(seq) }
}

// Committed returns the committable position: that of the last entry such
// that it and every entry tracked before it were acked, or, if no entry
// was committed yet, the position given to [NewAt]. ok is false if there
// is neither.
func (t *Tracker[P]) Committed() (p P, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.committed, t.ok
}

// Pending returns the number of entries tracked and not yet committed,
// acked or not.
func (t *Tracker[P]) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// Oldest returns the position of the oldest entry not yet acked, the one
// that holds the committed position back; ok is false when nothing is
// pending. For a lag metric in time rather than in positions, make the
// time part of P, such as struct{ Offset int64; At time.Time }: the
// Tracker does not read the clock, which would cost more than Track and
// Ack together.
func (t *Tracker[P]) Oldest() (p P, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		return p, false
	}
	return t.ring[t.head].pos, true
}

// resize moves the entries to a ring of size, a power of two ≥ t.n.
func (t *Tracker[P]) resize(size int) {
	ring := make([]entry[P], size)
	if t.n > 0 {
		k := copy(ring, t.ring[t.head:min(len(t.ring), t.head+t.n)])
		copy(ring[k:t.n], t.ring)
	}
	t.ring, t.head = ring, 0
	t.tracks, t.peak = 0, t.n
}

// ceilPow2 returns the smallest power of two ≥ n, for n ≥ 0.
func ceilPow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}
