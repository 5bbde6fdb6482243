package handoff

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// receiver is a receiver calling TakeOrRun in a loop, as a Processor's
// loop does: it records what it got, and on which path.
type receiver struct {
	q        *Queue[[2]int]
	buf      [][2]int
	k        int
	mu       sync.Mutex // guards got, returned
	got      [][2]int
	inline   int // items run by a Put
	returned int // items returned to the receiver
	// step, if set, runs before the items of a run are recorded: a test's
	// destination that blocks.
	step func(ctx context.Context, items [][2]int) error
}

func newReceiver(q *Queue[[2]int], most int) *receiver {
	return &receiver{q: q, buf: make([][2]int, most)}
}

// loop takes until an error, which it returns (io.EOF at the end).
func (r *receiver) loop(ctx context.Context) error {
	inRun := false
	record := func(n int) error {
		if r.step != nil {
			if err := r.step(ctx, r.buf[:n]); err != nil {
				return err
			}
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got = append(r.got, r.buf[:n]...)
		if inRun {
			r.inline += n
		} else {
			r.returned += n
		}
		return nil
	}
	for {
		n, err := r.q.TakeOrRun(ctx, len(r.buf), func(items [][2]int) {
			r.k += copy(r.buf[r.k:], items)
		}, func(n int) error {
			r.k = 0
			inRun = true
			defer func() { inRun = false }()
			return record(n)
		})
		if err != nil {
			return err
		}
		r.k = 0
		if err := record(n); err != nil {
			return err
		}
	}
}

func (r *receiver) snapshot() (got [][2]int, inline, returned int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][2]int(nil), r.got...), r.inline, r.returned
}

// waitParked polls until k receivers are parked (a generous deadline, no
// timing assumed).
func waitParked[T any](t *testing.T, q *Queue[T], k int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for q.nparked.Load() != int32(k) {
		if time.Now().After(deadline) {
			t.Fatalf("%d receivers parked, want %d", q.nparked.Load(), k)
		}
		time.Sleep(time.Millisecond)
	}
}

func put(t *testing.T, q *Queue[[2]int], id int, seqs ...int) {
	t.Helper()
	b := q.Get()
	for _, s := range seqs {
		b.Items = append(b.Items, [2]int{id, s})
	}
	if err := q.Put(t.Context(), b); err != nil {
		t.Error(err) // not Fatal: tests put from other goroutines too
	}
}

// A Put to an idle queue runs the parked receiver's step before it
// returns, and the receiver stays parked; items arrive in order, once.
func TestTakeOrRunInline(t *testing.T) {
	q := New[[2]int](16)
	r := newReceiver(q, 4)
	done := make(chan error, 1)
	go func() { done <- r.loop(t.Context()) }()
	for i := range 5 {
		waitParked(t, q, 1)
		put(t, q, 0, 3*i, 3*i+1, 3*i+2)
		// Put returned: the step ran on its goroutine.
		if got, inline, _ := r.snapshot(); len(got) != 3*(i+1) || inline != len(got) {
			t.Fatalf("after Put %d: %d items, %d of them inline; want all %d inline", i, len(got), inline, 3*(i+1))
		}
	}
	// A batch larger than a take: the Put runs one take, the receiver the rest.
	waitParked(t, q, 1)
	put(t, q, 0, 15, 16, 17, 18, 19, 20)
	q.Close()
	if err := <-done; !errors.Is(err, io.EOF) {
		t.Fatalf("receiver ended with %v, want io.EOF", err)
	}
	got, inline, returned := r.snapshot()
	if inline != 19 || returned != 2 {
		t.Errorf("%d inline, %d returned; want 19, 2", inline, returned)
	}
	checkOrder(t, got, 1, 21)
}

// The dangerous moment: a step run by one reader's Put blocks (a slow
// destination) while another reader puts. The second Put neither blocks
// (there is room) nor runs (the receiver is busy); its items wait in the
// queue and reach the receiver after the step, in order; once the queue
// is full, Puts block (back-pressure) until the step returns.
func TestTakeOrRunStepBlocks(t *testing.T) {
	q := New[[2]int](4)
	r := newReceiver(q, 8)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	r.step = func(ctx context.Context, items [][2]int) error {
		if items[0][0] == 0 {
			once.Do(func() { close(entered) })
			<-release
		}
		return nil
	}
	ctx := t.Context()
	done := make(chan error, 1)
	go func() { done <- r.loop(ctx) }()
	waitParked(t, q, 1)
	first := make(chan struct{})
	go func() { defer close(first); put(t, q, 0, 0) }()
	<-entered
	put(t, q, 1, 0, 1) // returns: queued
	put(t, q, 1, 2, 3) // fills the queue (4)
	third := make(chan struct{})
	go func() { defer close(third); put(t, q, 1, 4) }()
	select {
	case <-third:
		t.Fatal("a Put into the full queue returned while the step blocked")
	case <-first:
		t.Fatal("the Put running the step returned while the step blocked")
	case <-time.After(50 * time.Millisecond): // would fail only by letting a broken queue pass
	}
	close(release)
	<-first
	<-third
	q.Close()
	if err := <-done; !errors.Is(err, io.EOF) {
		t.Fatalf("receiver ended with %v, want io.EOF", err)
	}
	got, _, _ := r.snapshot()
	if want := [][2]int{{0, 0}, {1, 0}, {1, 1}, {1, 2}, {1, 3}, {1, 4}}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// With two receivers, a step blocked on one reader's goroutine leaves the
// other receiver to serve the next Put (N loops keep sending).
func TestTakeOrRunSecondReceiver(t *testing.T) {
	q := New[[2]int](16)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	block := func(ctx context.Context, items [][2]int) error {
		if items[0][0] == 0 {
			once.Do(func() { close(entered) })
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	a, b := newReceiver(q, 8), newReceiver(q, 8)
	a.step, b.step = block, block
	ctx := t.Context()
	var wg sync.WaitGroup
	for _, r := range []*receiver{a, b} {
		wg.Go(func() {
			if err := r.loop(ctx); !errors.Is(err, io.EOF) {
				t.Errorf("receiver ended with %v, want io.EOF", err)
			}
		})
	}
	waitParked(t, q, 2)
	go put(t, q, 0, 0)
	<-entered
	waitParked(t, q, 1)
	put(t, q, 1, 0, 1) // runs on the other receiver, while the first step blocks
	ga, _, _ := a.snapshot()
	gb, _, _ := b.snapshot()
	if len(ga)+len(gb) != 2 {
		t.Fatalf("while one step blocked, the other receiver got %d items, want 2", len(ga)+len(gb))
	}
	close(release)
	waitParked(t, q, 2)
	q.Close()
	wg.Wait()
}

// A step's error ends TakeOrRun with that error as it is; the Put that ran
// it succeeds (its items were taken), and no step runs after it.
func TestTakeOrRunStepError(t *testing.T) {
	q := New[[2]int](16)
	r := newReceiver(q, 8)
	errDst := errors.New("destination failed")
	var steps atomic.Int32
	r.step = func(context.Context, [][2]int) error {
		steps.Add(1)
		return errDst
	}
	done := make(chan error, 1)
	go func() { done <- r.loop(t.Context()) }()
	waitParked(t, q, 1)
	put(t, q, 0, 0)
	if err := <-done; err != errDst {
		t.Fatalf("TakeOrRun returned %v, want the step's error as it is", err)
	}
	put(t, q, 0, 1) // no receiver: queued
	if n := steps.Load(); n != 1 {
		t.Fatalf("%d steps, want 1", n)
	}
}

// Cancelled while a Put runs its step, TakeOrRun returns only once the
// step has returned; cancelled while parked, it returns at once and a
// later Put queues instead of running anything.
func TestTakeOrRunCancel(t *testing.T) {
	q := New[[2]int](16)
	r := newReceiver(q, 8)
	entered := make(chan struct{})
	var stepDone atomic.Bool
	r.step = func(ctx context.Context, items [][2]int) error {
		close(entered)
		<-ctx.Done()
		time.Sleep(10 * time.Millisecond) // a step slow to return: TakeOrRun must wait for it
		stepDone.Store(true)
		return ctx.Err()
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.loop(ctx) }()
	waitParked(t, q, 1)
	go put(t, q, 0, 0)
	<-entered
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("TakeOrRun returned %v, want context.Canceled", err)
	}
	if !stepDone.Load() {
		t.Fatal("TakeOrRun returned while the step it had parked for still ran")
	}

	q2 := New[[2]int](16)
	r2 := newReceiver(q2, 8)
	ctx2, cancel2 := context.WithCancel(t.Context())
	go func() { done <- r2.loop(ctx2) }()
	waitParked(t, q2, 1)
	cancel2()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("TakeOrRun returned %v, want context.Canceled", err)
	}
	if n := q2.nparked.Load(); n != 0 {
		t.Fatalf("%d receivers still parked after cancel", n)
	}
	put(t, q2, 0, 0)
	if got, _, _ := r2.snapshot(); len(got) != 0 {
		t.Fatalf("a Put after cancel ran a step")
	}
}

// Many readers and receivers at once: every item arrives once, and with
// one receiver in each reader's order, whichever path it took.
func TestTakeOrRunStress(t *testing.T) {
	for _, tc := range []struct{ producers, receivers, per, most int }{
		{1, 1, 3, 8}, {4, 1, 5, 8}, {4, 3, 7, 4}, {8, 2, 1, 256},
	} {
		q := New[[2]int](32)
		const n = 3000
		rs := make([]*receiver, tc.receivers)
		var recv sync.WaitGroup
		for i := range rs {
			rs[i] = newReceiver(q, tc.most)
			recv.Go(func() {
				if err := rs[i].loop(t.Context()); !errors.Is(err, io.EOF) {
					t.Errorf("receiver ended with %v", err)
				}
			})
		}
		var prod sync.WaitGroup
		for id := range tc.producers {
			prod.Go(func() {
				for s := 0; s < n; s += tc.per {
					b := q.Get()
					for i := s; i < min(s+tc.per, n); i++ {
						b.Items = append(b.Items, [2]int{id, i})
					}
					if err := q.Put(t.Context(), b); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		prod.Wait()
		q.Close()
		recv.Wait()
		var all [][2]int
		inline := 0
		for _, r := range rs {
			got, in, _ := r.snapshot()
			all = append(all, got...)
			inline += in
			if tc.receivers == 1 {
				checkOrder(t, got, tc.producers, n)
			}
		}
		seen := map[[2]int]bool{}
		for _, it := range all {
			if seen[it] {
				t.Fatalf("%+v: %v received twice", tc, it)
			}
			seen[it] = true
		}
		if len(seen) != tc.producers*n {
			t.Fatalf("%+v: %d items received, want %d", tc, len(seen), tc.producers*n)
		}
		t.Logf("%+v: %d of %d items run inline", tc, inline, len(all))
	}
}

// checkOrder checks that got holds seqs 0..n-1 of each of producers, in
// order per producer.
func checkOrder(t *testing.T, got [][2]int, producers, n int) {
	t.Helper()
	next := make([]int, producers)
	for _, it := range got {
		if it[1] != next[it[0]] {
			t.Fatalf("producer %d: got seq %d, want %d", it[0], it[1], next[it[0]])
		}
		next[it[0]]++
	}
	for id, k := range next {
		if k != n {
			t.Fatalf("producer %d: %d items, want %d", id, k, n)
		}
	}
}
