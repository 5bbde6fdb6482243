package batch_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/retry"
)

func TestNew(t *testing.T) {
	noop := batch.FlushFunc[[]byte](func(context.Context, []sluice.Message[[]byte]) error { return nil })
	tests := []struct {
		name    string
		new     func() error
		wantErr string // "" for success
	}{
		{"defaults", func() error { _, err := batch.New(batch.Config{}, noop); return err }, ""},
		{"all set", func() error {
			_, err := batch.New(batch.Config{Count: 10, Bytes: 1 << 20, Age: time.Minute, Parallelism: 4,
				StopTimeout: time.Second, Retry: retry.Policy{MaxAttempts: 3}}, noop,
				batch.WithLogger[[]byte](nil), batch.WithDeadLetter[[]byte](nil), batch.WithRetryable[[]byte](nil), batch.WithSize[[]byte](nil))
			return err
		}, ""},
		{"negative count", func() error { _, err := batch.New(batch.Config{Count: -1}, noop); return err }, "count"},
		{"negative bytes", func() error { _, err := batch.New(batch.Config{Bytes: -1}, noop); return err }, "bytes"},
		{"negative age", func() error { _, err := batch.New(batch.Config{Age: -1}, noop); return err }, "age"},
		{"negative parallelism", func() error { _, err := batch.New(batch.Config{Parallelism: -1}, noop); return err }, "parallelism"},
		{"negative stop timeout", func() error { _, err := batch.New(batch.Config{StopTimeout: -1}, noop); return err }, "stopTimeout"},
		{"bad retry policy", func() error {
			_, err := batch.New(batch.Config{Retry: retry.Policy{Multiplier: 0.5}}, noop)
			return err
		}, "multiplier"},
		{"nil flusher", func() error { _, err := batch.New[[]byte](batch.Config{}, nil); return err }, "flusher is nil"},
		{"nil FlushFunc", func() error { _, err := batch.New(batch.Config{}, batch.FlushFunc[[]byte](nil)); return err }, "flusher is nil"},
		{"bytes with string values", func() error {
			_, err := batch.New(batch.Config{Bytes: 10}, batch.FlushFunc[string](func(context.Context, []sluice.Message[string]) error { return nil }))
			return err
		}, ""},
		{"bytes with unknown size", func() error {
			_, err := batch.New(batch.Config{Bytes: 10}, batch.FlushFunc[int](func(context.Context, []sluice.Message[int]) error { return nil }))
			return err
		}, "WithSize"},
		{"bytes with WithSize", func() error {
			_, err := batch.New(batch.Config{Bytes: 10}, batch.FlushFunc[int](func(context.Context, []sluice.Message[int]) error { return nil }),
				batch.WithSize(func(m *sluice.Message[int]) int { return m.Value }))
			return err
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.new()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("got %v, want an error mentioning %q", err, tc.wantErr)
			case err != nil && !strings.HasPrefix(err.Error(), "batch: new: "):
				t.Errorf("got %q, want it to start with %q", err, "batch: new: ")
			}
		})
	}
}

// cutTests are where batches must be cut by count and by bytes; the
// batch held when Run stops is flushed then.
var cutTests = []struct {
	name  string
	count int
	bytes int
	sends [][]int // payload sizes of each Send
	want  []int   // sizes of the batches flushed, in order
}{
	{"count, one per send", 3, 0, [][]int{{1}, {1}, {1}, {1}, {1}, {1}, {1}}, []int{3, 3, 1}},
	{"count, one big send", 3, 0, [][]int{{1, 1, 1, 1, 1, 1, 1}}, []int{3, 3, 1}},
	{"count, exact", 2, 0, [][]int{{1, 1}, {1, 1}}, []int{2, 2}},
	{"count 1", 1, 0, [][]int{{1, 1, 1}}, []int{1, 1, 1}},
	{"bytes, next would not fit", 100, 10, [][]int{{4}, {4}, {4}, {4}}, []int{2, 2}},
	{"bytes, reached exactly", 100, 8, [][]int{{4}, {4}, {4}}, []int{2, 1}},
	{"bytes, oversize message alone", 100, 10, [][]int{{3}, {20}, {3}}, []int{1, 1, 1}},
	{"bytes, oversize first", 100, 10, [][]int{{20, 20}}, []int{1, 1}},
	{"bytes, zero-size messages", 2, 5, [][]int{{0, 0, 0}}, []int{2, 1}},
	{"count before bytes", 2, 100, [][]int{{1}, {1}, {1}}, []int{2, 1}},
	{"bytes before count", 5, 10, [][]int{{6, 6, 6}}, []int{1, 1, 1}},
	{"nothing sent", 3, 0, nil, nil},
}

func TestCuts(t *testing.T) {
	for _, tc := range cutTests {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			d := mustNew(t, batch.Config{Count: tc.count, Bytes: tc.bytes, Age: time.Hour, Parallelism: 1}, batch.Flusher[[]byte](rec))
			r := start(t, t.Context(), d)
			for i, sizes := range tc.sends {
				if err := d.Send(t.Context(), nil, msgs(fmt.Sprint(i), sizes...)...); err != nil {
					t.Fatalf("Send %d: %v", i, err)
				}
			}
			if err := r.stop(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := rec.sizeList(); !slices.Equal(got, tc.want) {
				t.Errorf("got batches %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWithSize(t *testing.T) {
	var got []int
	f := batch.FlushFunc[int](func(_ context.Context, ms []sluice.Message[int]) error {
		got = append(got, len(ms)) // Parallelism 1: one flush at a time
		return nil
	})
	d := mustNew(t, batch.Config{Bytes: 10, Age: time.Hour, Parallelism: 1}, batch.Flusher[int](f),
		batch.WithSize(func(m *sluice.Message[int]) int { return m.Value }))
	r := start(t, t.Context(), d)
	for _, v := range []int{4, 4, 4, -7, 20, 1} { // -7 counts as 0
		if err := d.Send(t.Context(), nil, sluice.Message[int]{Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if want := []int{2, 2, 1, 1}; !slices.Equal(got, want) {
		t.Errorf("got batches %v, want %v", got, want)
	}
}

// TestAcks checks that each Send is acked exactly once, and only after
// every one of its messages was flushed, however its messages spread over
// batches.
func TestAcks(t *testing.T) {
	tests := []struct {
		name  string
		count int
		bytes int
		sends [][]int
	}{
		{"one message per send", 3, 0, [][]int{{1}, {1}, {1}, {1}}},
		{"send fills one batch", 3, 0, [][]int{{1, 1, 1}, {1, 1, 1}}},
		{"sends straddle two batches", 3, 0, [][]int{{1, 1}, {1, 1}, {1, 1}}},
		{"send spans many batches", 3, 0, [][]int{{1}, slices.Repeat([]int{1}, 10), {1}}},
		{"bytes cut before a straddling send", 100, 10, [][]int{{4, 4}, {4, 4}, {4}}},
		{"oversize message in the middle", 100, 10, [][]int{{3, 20, 3}, {3}}},
		{"empty send among others", 3, 0, [][]int{{1}, {}, {1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			d := mustNew(t, batch.Config{Count: tc.count, Bytes: tc.bytes, Age: time.Hour}, batch.Flusher[[]byte](rec))
			r := start(t, t.Context(), d)
			var mu sync.Mutex
			acked := make([]int, len(tc.sends))
			for i, sizes := range tc.sends {
				ms := msgs(fmt.Sprint(i), sizes...)
				ack := func() {
					if !rec.wasFlushed(keys(ms)...) {
						t.Errorf("send %d acked before all its messages were flushed", i)
					}
					mu.Lock()
					acked[i]++
					mu.Unlock()
				}
				if err := d.Send(t.Context(), ack, ms...); err != nil {
					t.Fatalf("Send %d: %v", i, err)
				}
			}
			if err := r.stop(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			for i, n := range acked {
				if n != 1 {
					t.Errorf("send %d acked %d times, want 1", i, n)
				}
			}
		})
	}
}

// TestSendErrors checks Send's errors and that an empty Send acks at once.
func TestSendErrors(t *testing.T) {
	tests := []struct {
		name      string
		stage     string // "before" Run, "during" Run, "after" Run stopped
		n         int    // messages
		cancelled bool   // ctx already done
		wantErr   error  // nil for success
		wantAck   bool   // acked by the time Send returns
	}{
		{"empty before run", "before", 0, false, nil, true},
		{"empty during run", "during", 0, false, nil, true},
		{"empty after stop", "after", 0, false, sluice.ErrClosed, false},
		{"messages before run", "before", 2, false, nil, false},
		{"messages after stop", "after", 2, false, sluice.ErrClosed, false},
		{"cancelled ctx", "during", 2, true, context.Canceled, false},
		{"cancelled ctx, empty", "during", 0, true, context.Canceled, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := mustNew(t, batch.Config{Age: time.Hour}, batch.Flusher[[]byte](newRecorder()))
			if tc.stage != "before" {
				r := start(t, t.Context(), d)
				if tc.stage == "after" {
					if err := r.stop(t); err != nil {
						t.Fatal(err)
					}
				}
			}
			ctx, cancel := context.WithCancel(t.Context())
			if tc.cancelled {
				cancel()
			}
			defer cancel()
			ack := newCounter()
			err := d.Send(ctx, ack.ack, ones("m", tc.n)...)
			if tc.wantErr == nil && err != nil || !errors.Is(err, tc.wantErr) {
				t.Errorf("got %v, want %v", err, tc.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "batch: send: ") {
				t.Errorf("got %q, want it to start with %q", err, "batch: send: ")
			}
			if got := ack.count() == 1; got != tc.wantAck {
				t.Errorf("acked: %v, want %v", got, tc.wantAck)
			}
		})
	}
}

// TestSendCopies checks that Send keeps the Message values, not the
// caller's slice.
func TestSendCopies(t *testing.T) {
	rec := newRecorder()
	d := mustNew(t, batch.Config{Age: time.Hour}, batch.Flusher[[]byte](rec))
	ms := ones("m", 2)
	if err := d.Send(t.Context(), nil, ms...); err != nil {
		t.Fatal(err)
	}
	ms[0] = sluice.Message[[]byte]{Key: "changed"}
	r := start(t, t.Context(), d)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if !rec.wasFlushed("m-0", "m-1") || rec.wasFlushed("changed") {
		t.Errorf("flushed %v, want m-0 and m-1", rec.flushed)
	}
}

func TestRunTwice(t *testing.T) {
	d := mustNew(t, batch.Config{}, batch.Flusher[[]byte](newRecorder()))
	ctx, cancel := context.WithCancel(t.Context())
	results := make(chan error, 2)
	for range 2 {
		go func() { results <- d.Run(ctx) }()
	}
	// Whichever call came second returns at once; the other runs until
	// ctx is done.
	if err := recv(t, results); !errors.Is(err, sluice.ErrAlreadyRunning) {
		t.Errorf("first to return: got %v, want ErrAlreadyRunning", err)
	}
	cancel()
	if err := recv(t, results); err != nil {
		t.Errorf("Run: got %v, want nil", err)
	}
	if err := d.Run(t.Context()); !errors.Is(err, sluice.ErrAlreadyRunning) {
		t.Errorf("Run after stop: got %v, want ErrAlreadyRunning", err)
	}
}

// TestConcurrentSend sends from many goroutines at once while batches
// flush in parallel: every message is flushed once and every Send acked
// once.
func TestConcurrentSend(t *testing.T) {
	const senders, sends = 8, 200
	rec := newRecorder()
	d := mustNew(t, batch.Config{Count: 7, Bytes: 40, Age: time.Millisecond, Parallelism: 3}, batch.Flusher[[]byte](rec))
	r := start(t, t.Context(), d)
	var mu sync.Mutex
	acked := map[string]int{}
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range sends {
				id := fmt.Sprintf("%d.%d", g, i)
				sizes := make([]int, rand.IntN(6)) // 0 to 5 messages
				for j := range sizes {
					sizes[j] = rand.IntN(12)
				}
				ack := func() {
					mu.Lock()
					acked[id]++
					mu.Unlock()
				}
				if err := d.Send(t.Context(), ack, msgs(id, sizes...)...); err != nil {
					t.Errorf("Send %s: %v", id, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(acked) != senders*sends {
		t.Errorf("%d sends acked, want %d", len(acked), senders*sends)
	}
	for id, n := range acked {
		if n != 1 {
			t.Errorf("send %s acked %d times", id, n)
		}
	}
	for k, n := range rec.flushed {
		if n != 1 {
			t.Errorf("message %s flushed %d times", k, n)
		}
	}
}

// TestParallelism counts concurrent Flush calls: Parallelism of them run
// at once, never more.
func TestParallelism(t *testing.T) {
	for _, p := range []int{1, 2, 4} {
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			var (
				mu            sync.Mutex
				inFlight, top int
				started       = make(chan struct{}, 100)
				release       = make(chan struct{})
			)
			rec := newRecorder()
			rec.before = func(context.Context, []sluice.Message[[]byte]) error {
				mu.Lock()
				inFlight++
				top = max(top, inFlight)
				if inFlight > p {
					t.Errorf("%d flushes in flight, want at most %d", inFlight, p)
				}
				mu.Unlock()
				started <- struct{}{}
				<-release
				mu.Lock()
				inFlight--
				mu.Unlock()
				return nil
			}
			d := mustNew(t, batch.Config{Count: 1, Parallelism: p}, batch.Flusher[[]byte](rec))
			r := start(t, t.Context(), d)
			ack := newCounter()
			sent := make(chan error, 1)
			go func() {
				for i := range 3 * p {
					if err := d.Send(t.Context(), ack.ack, ones(fmt.Sprint(i), 1)...); err != nil {
						sent <- err
						return
					}
				}
				sent <- nil
			}()
			for range p {
				recv(t, started)
			}
			close(release)
			if err := recv(t, sent); err != nil {
				t.Fatal(err)
			}
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
			if top != p {
				t.Errorf("at most %d flushes ran at once, want %d", top, p)
			}
			if n := ack.count(); n != 3*p {
				t.Errorf("%d acks, want %d", n, 3*p)
			}
		})
	}
}

// TestNoGoroutineLeak checks that nothing Run started outlives it,
// whichever way it stops.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	scenarios := map[string]batch.FlushFunc[[]byte]{
		"clean": func(context.Context, []sluice.Message[[]byte]) error { return nil },
		"fatal": func(context.Context, []sluice.Message[[]byte]) error { return errors.New("bad") },
		"out of time": func(ctx context.Context, _ []sluice.Message[[]byte]) error {
			<-ctx.Done()
			return ctx.Err()
		},
		"retrying": func(context.Context, []sluice.Message[[]byte]) error {
			return sluice.Retryable(errors.New("busy"))
		},
	}
	for name, f := range scenarios {
		t.Run(name, func(t *testing.T) {
			d := mustNew(t, batch.Config{Count: 1, Parallelism: 2, StopTimeout: 10 * time.Millisecond,
				Retry: retry.Policy{Initial: time.Millisecond}}, batch.Flusher[[]byte](f))
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()
			// One Send of 5 is accepted whole: 2 batches in flight, 3 queued.
			if err := d.Send(ctx, nil, ones("m", 5)...); err != nil {
				t.Fatal(err)
			}
			cancel()
			recv(t, done)
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, want %d:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
	}
}
