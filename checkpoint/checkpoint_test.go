package checkpoint_test

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice/checkpoint"
)

func TestTracker(t *testing.T) {
	// step is Track(track) if track != "", else Ack(ack), which must
	// return advanced.
	type step struct {
		track    string
		ack      uint64
		advanced bool
	}
	tests := []struct {
		name          string
		at            *string // NewAt(*at) if not nil
		steps         []step
		wantCommitted string
		wantOK        bool
		wantPending   int
		wantOldest    string
	}{
		{name: "empty"},
		{name: "initial", at: new("c0"), wantCommitted: "c0", wantOK: true},
		{name: "tracked, none acked", steps: []step{{track: "c1"}, {track: "c2"}},
			wantPending: 2, wantOldest: "c1"},
		{name: "in order", steps: []step{{track: "c1"}, {ack: 1, advanced: true}, {track: "c2"}, {ack: 2, advanced: true}},
			wantCommitted: "c2", wantOK: true},
		{name: "later acks wait for the first", at: new("c0"),
			steps:         []step{{track: "c1"}, {track: "c2"}, {track: "c3"}, {ack: 3}, {ack: 2}},
			wantCommitted: "c0", wantOK: true, wantPending: 3, wantOldest: "c1"},
		{name: "first ack releases the prefix",
			steps:         []step{{track: "c1"}, {track: "c2"}, {track: "c3"}, {ack: 3}, {ack: 2}, {ack: 1, advanced: true}},
			wantCommitted: "c3", wantOK: true},
		{name: "a gap holds the watermark",
			steps:         []step{{track: "c1"}, {track: "c2"}, {track: "c3"}, {ack: 1, advanced: true}, {ack: 3}},
			wantCommitted: "c1", wantOK: true, wantPending: 2, wantOldest: "c2"},
		{name: "duplicate ack",
			steps:         []step{{track: "c1"}, {track: "c2"}, {ack: 2}, {ack: 2}, {ack: 1, advanced: true}, {ack: 1}},
			wantCommitted: "c2", wantOK: true},
		{name: "unknown and zero seq",
			steps:       []step{{track: "c1"}, {ack: 0}, {ack: 2}, {ack: 1 << 63}},
			wantPending: 1, wantOldest: "c1"},
		{name: "ack before any track", steps: []step{{ack: 0}, {ack: 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := checkpoint.New[string]()
			if tc.at != nil {
				tr = checkpoint.NewAt(*tc.at)
			}
			var seq uint64
			for i, s := range tc.steps {
				if s.track != "" {
					seq++
					if got := tr.Track(s.track); got != seq {
						t.Fatalf("step %d: Track(%q) = %d, want %d", i, s.track, got, seq)
					}
					continue
				}
				if got := tr.Ack(s.ack); got != s.advanced {
					t.Fatalf("step %d: Ack(%d) = %v, want %v", i, s.ack, got, s.advanced)
				}
			}
			if got, ok := tr.Committed(); got != tc.wantCommitted || ok != tc.wantOK {
				t.Errorf("Committed() = %q, %v; want %q, %v", got, ok, tc.wantCommitted, tc.wantOK)
			}
			if got := tr.Pending(); got != tc.wantPending {
				t.Errorf("Pending() = %d, want %d", got, tc.wantPending)
			}
			got, ok := tr.Oldest()
			if wantOK := tc.wantPending > 0; got != tc.wantOldest || ok != wantOK {
				t.Errorf("Oldest() = %q, %v; want %q, %v", got, ok, tc.wantOldest, wantOK)
			}
		})
	}
}

func TestZeroValue(t *testing.T) {
	var tr checkpoint.Tracker[int]
	if _, ok := tr.Committed(); ok {
		t.Fatal("zero Tracker has a committed position")
	}
	if seq := tr.Track(7); seq != 1 || !tr.Ack(seq) {
		t.Fatalf("Track then Ack on the zero Tracker: seq %d", seq)
	}
	if got, ok := tr.Committed(); got != 7 || !ok {
		t.Errorf("Committed() = %d, %v; want 7, true", got, ok)
	}
}

func TestAckFunc(t *testing.T) {
	tr := checkpoint.New[int]()
	ack1, ack2 := tr.AckFunc(tr.Track(1)), tr.AckFunc(tr.Track(2))
	ack2()
	ack2()
	if _, ok := tr.Committed(); ok {
		t.Fatal("committed before the first entry was acked")
	}
	ack1()
	ack1()
	if got, _ := tr.Committed(); got != 2 {
		t.Errorf("Committed() = %d, want 2", got)
	}
}

// TestTrackerConcurrent tracks entries from one goroutine and acks them
// from many, out of order and some twice; every goroutine must see the
// committed position only move forward, and everything is committed at
// the end.
func TestTrackerConcurrent(t *testing.T) {
	const n, ackers = 20000, 8
	tr := checkpoint.New[int]()
	seqs := make(chan uint64, 64)
	var advanced atomic.Int64
	var wg sync.WaitGroup
	for g := range ackers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 0))
			last := -1
			for seq := range seqs {
				if tr.Ack(seq) {
					advanced.Add(1)
				}
				switch rng.IntN(10) {
				case 0:
					if tr.Ack(seq) {
						t.Errorf("second Ack(%d) advanced", seq)
					}
				case 1:
					tr.Ack(seq + n) // unknown
				}
				if p, ok := tr.Committed(); ok {
					if p < last {
						t.Errorf("committed went back from %d to %d", last, p)
					}
					last = p
				}
			}
		})
	}
	for i := range n {
		seqs <- tr.Track(i)
	}
	close(seqs)
	wg.Wait()
	if got, ok := tr.Committed(); got != n-1 || !ok {
		t.Errorf("Committed() = %d, %v; want %d, true", got, ok, n-1)
	}
	if got := tr.Pending(); got != 0 {
		t.Errorf("Pending() = %d, want 0", got)
	}
	if a := advanced.Load(); a < 1 || a > n {
		t.Errorf("%d acks advanced, want between 1 and %d", a, n)
	}
}

// TestTrackerConcurrentTrack has every goroutine track and ack its own
// entries at once.
func TestTrackerConcurrentTrack(t *testing.T) {
	const n, workers = 5000, 8
	tr := checkpoint.New[int]()
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			var held []func()
			for i := range n {
				held = append(held, tr.AckFunc(tr.Track(g*n+i)))
				if i%7 == 6 { // ack in reverse, in small groups
					for j := len(held) - 1; j >= 0; j-- {
						held[j]()
					}
					held = held[:0]
				}
			}
			for _, ack := range held {
				ack()
			}
		})
	}
	wg.Wait()
	if got := tr.Pending(); got != 0 {
		t.Errorf("Pending() = %d, want 0", got)
	}
	if _, ok := tr.Committed(); !ok {
		t.Error("nothing committed")
	}
}

// BenchmarkTrackAck is a source acked in order: one Track and one Ack per
// op.
func BenchmarkTrackAck(b *testing.B) {
	tr := checkpoint.New[int64]()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tr.Ack(tr.Track(int64(i)))
	}
}

// BenchmarkTrackAckWindow keeps 1024 entries in flight and acks them in a
// shuffled order: one Track and one Ack per op.
func BenchmarkTrackAckWindow(b *testing.B) {
	const window = 1024
	tr := checkpoint.New[int64]()
	order := rand.New(rand.NewPCG(1, 2)).Perm(window)
	seqs := make([]uint64, window)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := i % window
		seqs[k] = tr.Track(int64(i))
		if k == window-1 {
			for _, j := range order {
				tr.Ack(seqs[j])
			}
		}
	}
}

// BenchmarkTrackAckParallel tracks and acks from GOMAXPROCS goroutines.
func BenchmarkTrackAckParallel(b *testing.B) {
	tr := checkpoint.New[int64]()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for i := int64(0); pb.Next(); i++ {
			tr.Ack(tr.Track(i))
		}
	})
}
