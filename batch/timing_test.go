package batch_test

// These tests run in a testing/synctest bubble: time is fake, and passes
// only when every goroutine of the test is blocked. time.Sleep here moves
// the fake clock forward; it never waits for another goroutine, which
// synctest.Wait does.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/retry"
)

// TestAge checks that a batch is flushed Age after its first message, and
// that an idle Destination does not wake up.
func TestAge(t *testing.T) {
	type send struct {
		at time.Duration
		n  int
	}
	type flush struct {
		at   time.Duration
		size int
	}
	tests := []struct {
		name  string
		sends []send
		want  []flush
	}{
		{"one batch", []send{{0, 2}}, []flush{{time.Second, 2}}},
		{"age counts from the first message", []send{{0, 1}, {600 * time.Millisecond, 1}}, []flush{{time.Second, 2}}},
		{"a new batch gets a new age", []send{{0, 1}, {1500 * time.Millisecond, 2}}, []flush{{time.Second, 1}, {2500 * time.Millisecond, 2}}},
		{"count cut restarts the age", []send{{0, 1}, {300 * time.Millisecond, 2}, {500 * time.Millisecond, 1}},
			[]flush{{300 * time.Millisecond, 3}, {1500 * time.Millisecond, 1}}},
		{"leftover of a count cut keeps its age", []send{{0, 4}, {300 * time.Millisecond, 1}}, []flush{{0, 3}, {time.Second, 2}}},
		{"nothing sent", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				begin := time.Now()
				var got []flush
				rec := newRecorder()
				rec.before = func(_ context.Context, ms []sluice.Message[[]byte]) error {
					got = append(got, flush{time.Since(begin), len(ms)}) // Parallelism 1
					return nil
				}
				d := mustNew(t, batch.Config{Count: 3, Age: time.Second, Parallelism: 1}, batch.Flusher[[]byte](rec))
				var wakes atomic.Int64
				batch.SetOnWake(d, func() { wakes.Add(1) })
				r := start(t, t.Context(), d)
				for i, s := range tc.sends {
					time.Sleep(s.at - time.Since(begin))
					if err := d.Send(t.Context(), nil, ones(fmt.Sprint(i), s.n)...); err != nil {
						t.Fatal(err)
					}
				}
				time.Sleep(time.Hour) // long past every age
				synctest.Wait()
				if !slices.Equal(got, tc.want) {
					t.Errorf("got flushes %v, want %v", got, tc.want)
				}
				idle := wakes.Load()
				time.Sleep(24 * time.Hour)
				if n := wakes.Load() - idle; n != 0 {
					t.Errorf("idle Destination woke %d times in a day, want 0", n)
				}
				if err := r.stop(t); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// TestEager checks group commit: with Eager, a message is flushed at once
// when a slot is free, and messages sent while the flush is busy go out
// together as soon as it ends, without waiting for Age. The Run loop,
// which only cuts by age, never wakes: an eager batch never needs it.
func TestEager(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		begin := time.Now()
		type flush struct {
			at   time.Duration
			size int
		}
		var got []flush
		rec := newRecorder()
		rec.before = func(_ context.Context, ms []sluice.Message[[]byte]) error {
			got = append(got, flush{time.Since(begin), len(ms)})
			time.Sleep(10 * time.Millisecond) // a busy flush
			return nil
		}
		d := mustNew(t, batch.Config{Count: 100, Age: time.Hour, Parallelism: 1, Eager: true}, batch.Flusher[[]byte](rec))
		var wakes atomic.Int64
		batch.SetOnWake(d, func() { wakes.Add(1) })
		r := start(t, t.Context(), d)
		for i := range 5 { // at 0, 3, 6, 9, 12 ms: while a flush is busy
			if err := d.Send(t.Context(), nil, ones(fmt.Sprint(i), 1)...); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Millisecond)
		}
		time.Sleep(time.Second)
		for i := range 3 { // at 1015, 1035, 1055 ms: each while no flush is
			if err := d.Send(t.Context(), nil, ones(fmt.Sprint(5+i), 1)...); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		synctest.Wait()
		want := []flush{{0, 1}, {10 * time.Millisecond, 3}, {20 * time.Millisecond, 1},
			{1015 * time.Millisecond, 1}, {1035 * time.Millisecond, 1}, {1055 * time.Millisecond, 1}}
		if !slices.Equal(got, want) {
			t.Errorf("got flushes %v, want %v", got, want)
		}
		if n := wakes.Load(); n != 0 {
			t.Errorf("the Run loop woke %d times, want 0: an eager batch never waits for its age", n)
		}
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
	})
}

// TestAgeWaitsForSlot checks that a batch due by age while every flush
// slot is busy is not queued behind them (memory would grow without
// bound) but cut as soon as a slot frees.
func TestAgeWaitsForSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		begin := time.Now()
		release := make(chan struct{})
		var starts []time.Duration
		rec := newRecorder()
		rec.before = func(context.Context, []sluice.Message[[]byte]) error {
			starts = append(starts, time.Since(begin)) // Parallelism 1
			<-release
			return nil
		}
		d := mustNew(t, batch.Config{Count: 2, Age: time.Second, Parallelism: 1}, batch.Flusher[[]byte](rec))
		r := start(t, t.Context(), d)
		if err := d.Send(t.Context(), nil, ones("a", 2)...); err != nil { // cut, in flight
			t.Fatal(err)
		}
		if err := d.Send(t.Context(), nil, ones("b", 1)...); err != nil { // due at 1s
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if want := []time.Duration{0}; !slices.Equal(starts, want) {
			t.Fatalf("flushes started at %v, want %v", starts, want)
		}
		close(release)
		synctest.Wait()
		if want := []time.Duration{0, 5 * time.Second}; !slices.Equal(starts, want) {
			t.Errorf("flushes started at %v, want %v", starts, want)
		}
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
	})
}

// TestBackPressure checks that a Send that would fill a batch while every
// flush slot is busy blocks without accepting anything, and what ends the
// wait.
func TestBackPressure(t *testing.T) {
	tests := []struct {
		name       string
		end        string // "free a slot", "cancel the send", "stop run"
		wantErr    error
		wantBAcked bool
	}{
		{"a slot frees", "free a slot", nil, true},
		{"ctx cancelled", "cancel the send", context.Canceled, false},
		{"run stopped", "stop run", sluice.ErrClosed, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				rec := newRecorder()
				rec.before = func(context.Context, []sluice.Message[[]byte]) error {
					<-release
					return nil
				}
				d := mustNew(t, batch.Config{Count: 1, Parallelism: 1}, batch.Flusher[[]byte](rec))
				r := start(t, t.Context(), d)
				ackA, ackB := newCounter(), newCounter()
				if err := d.Send(t.Context(), ackA.ack, ones("a", 1)...); err != nil {
					t.Fatal(err)
				}
				ctxB, cancelB := context.WithCancel(t.Context())
				defer cancelB()
				errB := make(chan error, 1)
				go func() { errB <- d.Send(ctxB, ackB.ack, ones("b", 1)...) }()
				synctest.Wait()
				select {
				case err := <-errB:
					t.Fatalf("Send returned %v while every flush slot was busy", err)
				default:
				}
				switch tc.end {
				case "free a slot":
					close(release)
				case "cancel the send":
					cancelB()
				case "stop run":
					r.cancel()
				}
				err := recv(t, errB)
				if tc.wantErr == nil && err != nil || !errors.Is(err, tc.wantErr) {
					t.Errorf("Send: got %v, want %v", err, tc.wantErr)
				}
				if tc.end != "free a slot" {
					close(release)
				}
				if err := r.stop(t); err != nil {
					t.Fatal(err)
				}
				if ackA.count() != 1 {
					t.Errorf("first Send acked %d times, want 1", ackA.count())
				}
				if got := ackB.count(); got != 0 && !tc.wantBAcked || got != 1 && tc.wantBAcked {
					t.Errorf("blocked Send acked %d times, want acked: %v", got, tc.wantBAcked)
				}
				if rec.wasFlushed("b-0") != tc.wantBAcked {
					t.Errorf("blocked Send's message flushed: %v, want %v", !tc.wantBAcked, tc.wantBAcked)
				}
			})
		})
	}
}

// TestLargeSend checks that one Send of more batches than Parallelism is
// accepted whole when a slot is free (it is never split, so it never
// fails half-accepted), and that the next Send then waits.
func TestLargeSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		rec := newRecorder()
		rec.before = func(context.Context, []sluice.Message[[]byte]) error {
			<-release
			return nil
		}
		d := mustNew(t, batch.Config{Count: 1, Parallelism: 1}, batch.Flusher[[]byte](rec))
		r := start(t, t.Context(), d)
		ack := newCounter()
		if err := d.Send(t.Context(), ack.ack, ones("a", 5)...); err != nil {
			t.Fatal(err)
		}
		errB := make(chan error, 1)
		go func() { errB <- d.Send(t.Context(), ack.ack, ones("b", 1)...) }()
		synctest.Wait()
		select {
		case err := <-errB:
			t.Fatalf("Send returned %v while the queue was full", err)
		default:
		}
		close(release)
		if err := recv(t, errB); err != nil {
			t.Fatal(err)
		}
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
		if want := []int{1, 1, 1, 1, 1, 1}; !slices.Equal(rec.sizeList(), want) {
			t.Errorf("got batches %v, want %v", rec.sizeList(), want)
		}
		if ack.count() != 2 {
			t.Errorf("%d acks, want 2", ack.count())
		}
	})
}

// TestSendBeforeRun checks that Send before Run buffers, blocks when the
// buffer is full, and that Run flushes what was buffered.
func TestSendBeforeRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		d := mustNew(t, batch.Config{Count: 2, Age: time.Second, Parallelism: 1}, batch.Flusher[[]byte](rec))
		ack := newCounter()
		if err := d.Send(t.Context(), ack.ack, ones("a", 3)...); err != nil { // one batch cut, one held
			t.Fatal(err)
		}
		errB := make(chan error, 1)
		go func() { errB <- d.Send(t.Context(), ack.ack, ones("b", 1)...) }() // fills the held batch
		synctest.Wait()
		select {
		case err := <-errB:
			t.Fatalf("Send returned %v before Run made room", err)
		default:
		}
		if ack.count() != 0 || len(rec.sizeList()) != 0 {
			t.Fatalf("flushed before Run")
		}
		begin := time.Now()
		r := start(t, t.Context(), d)
		if err := recv(t, errB); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if want := []int{2, 2}; !slices.Equal(rec.sizeList(), want) || ack.count() != 2 {
			t.Errorf("got batches %v and %d acks, want %v and 2", rec.sizeList(), ack.count(), want)
		}
		if time.Since(begin) != 0 {
			t.Errorf("took %v", time.Since(begin))
		}
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRetry checks that retryable flush errors are retried with back-off,
// logged at Warn, and that the batch is acked once it succeeds.
func TestRetry(t *testing.T) {
	busy := errors.New("busy")
	tests := []struct {
		name      string
		errs      []error // returned by the flusher in turn, then nil
		opts      []batch.Option[[]byte]
		wantWaits []time.Duration // upper bounds (exclusive) of the logged delays
		minTime   time.Duration
	}{
		{"retryable, then success", []error{sluice.Retryable(busy), sluice.Retryable(busy)}, nil,
			[]time.Duration{100 * time.Millisecond, 200 * time.Millisecond}, 0},
		{"retry-after hint", []error{retry.After(busy, 5*time.Second)}, nil,
			[]time.Duration{5*time.Second + 1}, 5 * time.Second},
		{"custom retryable", []error{busy}, []batch.Option[[]byte]{batch.WithRetryable[[]byte](func(err error) bool { return errors.Is(err, busy) })},
			[]time.Duration{100 * time.Millisecond}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				calls := 0
				rec := newRecorder()
				rec.before = func(context.Context, []sluice.Message[[]byte]) error {
					calls++
					if calls <= len(tc.errs) {
						return tc.errs[calls-1]
					}
					return nil
				}
				log := &logs{}
				opts := append(tc.opts, batch.WithLogger[[]byte](slog.New(log)))
				d := mustNew(t, batch.Config{Count: 2}, batch.Flusher[[]byte](rec), opts...)
				r := start(t, t.Context(), d)
				ack := newCounter()
				begin := time.Now()
				if err := d.Send(t.Context(), ack.ack, ones("m", 2)...); err != nil {
					t.Fatal(err)
				}
				recv(t, ack.ch)
				if took := time.Since(begin); took < tc.minTime {
					t.Errorf("acked after %v, want at least %v", took, tc.minTime)
				}
				if calls != len(tc.errs)+1 {
					t.Errorf("%d flush calls, want %d", calls, len(tc.errs)+1)
				}
				warns := log.find(slog.LevelWarn, "batch: flush failed, retrying")
				if len(warns) != len(tc.wantWaits) {
					t.Fatalf("%d retry logs, want %d", len(warns), len(tc.wantWaits))
				}
				for i, w := range warns {
					if a := w["attempt"].Int64(); a != int64(i+1) {
						t.Errorf("log %d: attempt %d, want %d", i, a, i+1)
					}
					if d := w["delay"].Duration(); d < 0 || d >= tc.wantWaits[i] {
						t.Errorf("log %d: delay %v, want in [0, %v)", i, d, tc.wantWaits[i])
					}
				}
				if err := r.stop(t); err != nil {
					t.Fatal(err)
				}
				if ack.count() != 1 {
					t.Errorf("%d acks, want 1", ack.count())
				}
			})
		})
	}
}

type ctxKey struct{}

// TestShutdown checks what Run does with what it holds when its ctx is
// done: it flushes within StopTimeout, and gives up (without acking) on
// what it cannot flush by then.
func TestShutdown(t *testing.T) {
	const stopTimeout = 3 * time.Second
	tests := []struct {
		name     string
		count    int
		send     int // messages, in one Send before the stop
		flush    func(ctx context.Context) error
		wantTime time.Duration // from the stop to Run's return
		wantAck  bool
		wantLost int64 // messages reported not flushed
	}{
		{
			name: "partial batch flushed", count: 100, send: 5,
			flush:   func(context.Context) error { return nil },
			wantAck: true,
		},
		{
			name: "in-flight flush finishes", count: 5, send: 5,
			flush: func(ctx context.Context) error {
				select {
				case <-time.After(2 * time.Second):
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			},
			wantTime: 2 * time.Second, wantAck: true,
		},
		{
			name: "flush past the deadline", count: 100, send: 5,
			flush: func(ctx context.Context) error {
				<-ctx.Done()
				return ctx.Err()
			},
			wantTime: stopTimeout, wantLost: 5,
		},
		{
			name: "in-flight flush past the deadline", count: 5, send: 5,
			flush: func(ctx context.Context) error {
				<-ctx.Done()
				return ctx.Err()
			},
			wantTime: stopTimeout, wantLost: 5,
		},
		{
			name: "retrying until the deadline", count: 100, send: 5,
			flush:    func(context.Context) error { return sluice.Retryable(errors.New("busy")) },
			wantTime: stopTimeout, wantLost: 5,
		},
		{
			name: "queued batches past the deadline", count: 1, send: 4, // Parallelism 2: 2 in flight, 2 queued
			flush: func(ctx context.Context) error {
				<-ctx.Done()
				return ctx.Err()
			},
			wantTime: stopTimeout, wantLost: 4,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var stopped time.Time
				rec := newRecorder()
				rec.before = func(ctx context.Context, _ []sluice.Message[[]byte]) error {
					if ctx.Value(ctxKey{}) != "run" {
						t.Errorf("flush ctx lost Run's values")
					}
					if dl, ok := ctx.Deadline(); !stopped.IsZero() && (!ok || dl.Sub(stopped) > stopTimeout) {
						t.Errorf("flush after stop: deadline %v (%v), want by %v", dl, ok, stopped.Add(stopTimeout))
					}
					return tc.flush(ctx)
				}
				log := &logs{}
				d := mustNew(t, batch.Config{Count: tc.count, Age: time.Hour, StopTimeout: stopTimeout,
					Retry: retry.Policy{Max: time.Second}}, batch.Flusher[[]byte](rec), batch.WithLogger[[]byte](slog.New(log)))
				r := start(t, context.WithValue(t.Context(), ctxKey{}, "run"), d)
				ack := newCounter()
				if err := d.Send(t.Context(), ack.ack, ones("m", tc.send)...); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				stopped = time.Now()
				err := r.stop(t)
				if tc.wantLost == 0 && err != nil {
					t.Fatalf("Run: %v", err)
				}
				if want := fmt.Sprintf("%d messages not flushed", tc.wantLost); tc.wantLost > 0 &&
					(!errors.Is(err, sluice.ErrUndelivered) || !strings.Contains(fmt.Sprint(err), want)) {
					t.Errorf("Run: got %v, want ErrUndelivered saying %q", err, want)
				}
				if took := time.Since(stopped); took != tc.wantTime {
					t.Errorf("Run took %v to stop, want %v", took, tc.wantTime)
				}
				synctest.Wait()
				if acked := ack.count() == 1; acked != tc.wantAck {
					t.Errorf("acked: %v, want %v", acked, tc.wantAck)
				}
				var lost int64
				for _, w := range log.find(slog.LevelWarn, "batch: stopped with messages not flushed; they are not acked") {
					lost += w["messages"].Int64()
				}
				if lost != tc.wantLost {
					t.Errorf("logged %d messages not flushed, want %d", lost, tc.wantLost)
				}
				if err := d.Send(t.Context(), nil, ones("late", 1)...); !errors.Is(err, sluice.ErrClosed) {
					t.Errorf("Send after stop: got %v, want ErrClosed", err)
				}
			})
		})
	}
}

// TestEagerNeverWaitsForAge creates, on purpose, each moment at which an
// eager batch could be left behind for its Age timer: messages arrive
// while every flush slot is busy (a write or fsync held up), or before
// Run starts, and then the slot frees. Age is an hour, so a batch that
// missed its wake-up would not be flushed at all by the time the test
// looks: each must go out the moment the slot frees (fake time does not
// move meanwhile), in order, and be acked.
func TestEagerNeverWaitsForAge(t *testing.T) {
	type send struct {
		prefix string
		n      int
		async  bool // blocks for room: run it in a goroutine
	}
	type flush struct {
		at   time.Duration
		keys string
	}
	const freed = time.Second // when the slot frees (or Run starts)
	tests := []struct {
		name      string
		count     int
		par       int
		beforeRun bool // send before Run starts; freed is when it does
		sends     []send
		want      []flush
	}{
		{"a send while the flush is busy", 100, 1, false,
			[]send{{"a", 1, false}, {"b", 1, false}},
			[]flush{{0, "a-0"}, {freed, "b-0"}}},
		{"sends while the flush is busy go out together", 100, 1, false,
			[]send{{"a", 1, false}, {"b", 2, false}, {"c", 1, false}},
			[]flush{{0, "a-0"}, {freed, "b-0 b-1 c-0"}}},
		{"a send blocked for room behind a partial batch", 3, 1, false,
			[]send{{"a", 3, false}, {"b", 2, false}, {"c", 2, true}},
			[]flush{{0, "a-0 a-1 a-2"}, {freed, "b-0 b-1"}, {freed, "c-0 c-1"}}},
		{"a send blocked for room, then a small one", 2, 1, false,
			[]send{{"a", 1, false}, {"b", 2, true}, {"c", 1, false}},
			[]flush{{0, "a-0"}, {freed, "c-0"}, {freed, "b-0 b-1"}}},
		{"every one of two slots busy", 100, 2, false,
			[]send{{"a", 1, false}, {"b", 1, false}, {"c", 1, false}},
			[]flush{{0, "a-0"}, {0, "b-0"}, {freed, "c-0"}}},
		{"sends before Run starts", 100, 1, true,
			[]send{{"a", 1, false}, {"b", 1, false}},
			[]flush{{freed, "a-0"}, {freed, "b-0"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				begin := time.Now()
				release := make(chan struct{})
				var mu sync.Mutex
				var got []flush
				rec := newRecorder()
				rec.before = func(_ context.Context, ms []sluice.Message[[]byte]) error {
					mu.Lock()
					got = append(got, flush{time.Since(begin), strings.Join(keys(ms), " ")})
					mu.Unlock()
					<-release // the flushes begun before the slot frees are held up
					return nil
				}
				d := mustNew(t, batch.Config{Count: tc.count, Age: time.Hour, Parallelism: tc.par, Eager: true},
					batch.Flusher[[]byte](rec))
				var r *running
				if !tc.beforeRun {
					r = start(t, t.Context(), d)
				}
				acks := newCounter()
				errs := make(chan error, len(tc.sends))
				for _, s := range tc.sends {
					if s.async {
						go func() { errs <- d.Send(t.Context(), acks.ack, ones(s.prefix, s.n)...) }()
						synctest.Wait() // it blocks, waiting for room
						continue
					}
					errs <- d.Send(t.Context(), acks.ack, ones(s.prefix, s.n)...)
				}
				synctest.Wait()
				time.Sleep(freed)
				close(release)
				if tc.beforeRun {
					r = start(t, t.Context(), d)
				}
				synctest.Wait()
				for range tc.sends {
					if err := recv(t, errs); err != nil {
						t.Fatal(err)
					}
				}
				mu.Lock()
				if !slices.Equal(got, tc.want) {
					t.Errorf("flushes (at, keys) %v, want %v", got, tc.want)
				}
				mu.Unlock()
				if n := acks.count(); n != len(tc.sends) {
					t.Errorf("%d acks, want %d (one per Send)", n, len(tc.sends))
				}
				if err := r.stop(t); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}
