package checkpoint

import (
	"flag"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var seedFlag = flag.Uint64("seed", 0, "seed for TestTrackerModel (0: random)")

// model is the obvious, slow Tracker the real one is checked against: the
// positions in Track order, a set of acked sequence numbers, and a scan.
type model struct {
	initial    int
	hasInitial bool
	pos        []int // pos[i] is the position of sequence number i+1
	acked      map[uint64]bool
	lo         int // a lower bound of low(): acks are never undone
}

func (m *model) track(p int) uint64 {
	m.pos = append(m.pos, p)
	return uint64(len(m.pos))
}

// low returns how many entries, from the first, are acked.
func (m *model) low() int {
	for m.lo < len(m.pos) && m.acked[uint64(m.lo+1)] {
		m.lo++
	}
	return m.lo
}

func (m *model) ack(seq uint64) bool {
	if seq == 0 || seq > uint64(len(m.pos)) || m.acked[seq] {
		return false
	}
	before := m.low()
	m.acked[seq] = true
	return m.low() > before
}

func (m *model) committed() (int, bool) {
	if l := m.low(); l > 0 {
		return m.pos[l-1], true
	}
	return m.initial, m.hasInitial
}

func (m *model) pending() int { return len(m.pos) - m.low() }

func (m *model) oldest() (int, bool) {
	if l := m.low(); l < len(m.pos) {
		return m.pos[l], true
	}
	return 0, false
}

// op is one call: Track(pos) if track, else Ack(seq).
type op struct {
	track bool
	pos   int
	seq   uint64
}

// checker runs ops on a Tracker and its model side by side.
type checker struct {
	tb testing.TB
	tr *Tracker[int]
	m  *model
	i  int // ops run

	// For the memory bound: pending after each Track, and the number of
	// Tracks since the ring last changed size.
	afterTrack []int
	size, same int
}

func newChecker(tb testing.TB, initial *int) *checker {
	c := &checker{tb: tb, tr: New[int](), m: &model{acked: map[uint64]bool{}}}
	if initial != nil {
		c.tr = NewAt(*initial)
		c.m.initial, c.m.hasInitial = *initial, true
	}
	c.check(op{})
	return c
}

// do runs o on both and fails tb at the first difference.
func (c *checker) do(o op) {
	c.tb.Helper()
	c.i++
	if o.track {
		if got, want := c.tr.Track(o.pos), c.m.track(o.pos); got != want {
			c.tb.Fatalf("op %d %+v: Track returned %d, want %d", c.i, o, got, want)
		}
		c.afterTrack = append(c.afterTrack, c.m.pending())
		c.same++
	} else {
		if got, want := c.tr.Ack(o.seq), c.m.ack(o.seq); got != want {
			c.tb.Fatalf("op %d %+v: Ack returned %v, want %v", c.i, o, got, want)
		}
	}
	c.check(o)
}

// check compares every observable and the ring's size bound.
func (c *checker) check(o op) {
	c.tb.Helper()
	gotP, gotOK := c.tr.Committed()
	wantP, wantOK := c.m.committed()
	if gotP != wantP || gotOK != wantOK {
		c.tb.Fatalf("op %d %+v: Committed() = %d, %v; want %d, %v", c.i, o, gotP, gotOK, wantP, wantOK)
	}
	if got, want := c.tr.Pending(), c.m.pending(); got != want {
		c.tb.Fatalf("op %d %+v: Pending() = %d, want %d", c.i, o, got, want)
	}
	gotO, gotOK := c.tr.Oldest()
	wantO, wantOK := c.m.oldest()
	if gotO != wantO || gotOK != wantOK {
		c.tb.Fatalf("op %d %+v: Oldest() = %d, %v; want %d, %v", c.i, o, gotO, gotOK, wantO, wantOK)
	}
	c.tr.mu.Lock()
	size := len(c.tr.ring)
	c.tr.mu.Unlock()
	if size != c.size {
		if size > c.size && c.size > 0 && c.m.pending() <= c.size {
			c.tb.Fatalf("op %d %+v: ring grew from %d to %d holding %d", c.i, o, c.size, size, c.m.pending())
		}
		c.size, c.same = size, 0
	}
	if size != 0 && (size < minCap || size&(size-1) != 0 || c.m.pending() > size) {
		c.tb.Fatalf("op %d %+v: ring of %d holds %d entries", c.i, o, size, c.m.pending())
	}
	// A burst's memory is given back: a ring above minCap that was at
	// most a quarter full over its last 2×size Tracks (which hold one
	// whole epoch) should have shrunk.
	if size > minCap && c.same >= 2*size && slices.Max(c.afterTrack[len(c.afterTrack)-2*size:]) <= size/4 {
		c.tb.Fatalf("op %d %+v: ring of %d kept after %d Tracks with at most %d in flight",
			c.i, o, size, c.same, size/4)
	}
}

// TestTrackerModel runs random interleavings of Track and Ack, including
// duplicate, old and unknown acks, against the model. Rerun a failure with
// -seed.
func TestTrackerModel(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	runs, ops := 200, 2000
	if testing.Short() {
		runs = 20
	}
	for run := range runs {
		var initial *int
		if rng.IntN(2) == 0 {
			initial = new(-1)
		}
		c := newChecker(t, initial)
		pTrack := 0.5
		for range ops {
			if rng.IntN(100) == 0 { // switch between filling and draining
				pTrack = []float64{0.1, 0.5, 0.9}[rng.IntN(3)]
			}
			c.do(randomOp(rng, c.m, pTrack))
		}
		if t.Failed() {
			t.Fatalf("run %d", run)
		}
	}
}

// randomOp picks a Track, with probability pTrack, or an Ack of an entry
// in flight, a duplicate, an old or an unknown sequence number.
func randomOp(rng *rand.Rand, m *model, pTrack float64) op {
	next := uint64(len(m.pos)) + 1
	low := uint64(m.low()) + 1 // oldest entry in flight
	switch r := rng.Float64(); {
	case r < pTrack:
		return op{track: true, pos: int(next) * 10}
	case r < pTrack+(1-pTrack)*0.1: // head of line: the watermark moves
		return op{seq: low}
	case r < pTrack+(1-pTrack)*0.8 && low < next: // any entry in flight, maybe acked
		return op{seq: low + rng.Uint64N(next-low)}
	default: // old, unknown, or 0
		return op{seq: rng.Uint64N(next + 3)}
	}
}

// FuzzTracker decodes data into Track and Ack calls and checks, after
// every call, that Track's sequence number, Ack's result, Committed,
// Pending and Oldest equal the model's, and that the ring is a power of
// two holding more than a quarter of its size (or is the smallest).
//
// Each byte is one call: below 0x60 it is Track, otherwise Ack of a
// sequence number from 3 past the next one down to 156 before it
// (clamped at 0), so duplicates, old and unknown numbers all occur.
func FuzzTracker(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0x62, 0x63, 0x61})
	f.Add([]byte{0, 0, 0, 0, 0x60, 0x61, 0x62, 0x63, 0x64, 0x63, 0x66})
	burst := make([]byte, 0, 200)
	for range 100 {
		burst = append(burst, 0)
	}
	for i := range 100 {
		burst = append(burst, byte(0x60+3+i%40))
	}
	f.Add(burst)
	f.Fuzz(func(t *testing.T, data []byte) {
		var initial *int
		if len(data) > 0 && data[0]&0x80 != 0 {
			initial = new(-1)
		}
		c := newChecker(t, initial)
		for i, b := range data {
			if b < 0x60 {
				c.do(op{track: true, pos: i})
				continue
			}
			seq := int64(len(c.m.pos)) + 1 + 3 - int64(b-0x60)
			c.do(op{seq: uint64(max(seq, 0))})
		}
	})
}

func ringSize[P any](t *Tracker[P]) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.ring)
}

// TestTrackerMemory checks that a burst's memory is given back once
// traffic is back to normal, and that a steady window of entries in
// flight costs no allocation.
func TestTrackerMemory(t *testing.T) {
	tr := New[int]()
	seqs := make([]uint64, 0, 10000)
	for i := range cap(seqs) {
		seqs = append(seqs, tr.Track(i))
	}
	if got := ringSize(tr); got != 16384 {
		t.Fatalf("ring of %d after a burst of 10000, want 16384", got)
	}
	for _, s := range seqs {
		tr.Ack(s)
	}
	for i := range 2 * 16384 { // one in flight at a time
		tr.Ack(tr.Track(i))
	}
	if got := ringSize(tr); got != minCap {
		t.Errorf("ring of %d after the burst drained, want %d", got, minCap)
	}

	const window = 1000
	seqs = seqs[:window]
	cycle := func() {
		for i := range window {
			seqs[i] = tr.Track(i)
		}
		for i := window - 1; i >= 0; i-- {
			tr.Ack(seqs[i])
		}
	}
	cycle()
	if allocs := testing.AllocsPerRun(100, cycle); allocs != 0 {
		t.Errorf("%v allocations per window of %d, want 0", allocs, window)
	}
}
