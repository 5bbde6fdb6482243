package multi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/memory"
	"github.com/sluicehq/sluice/multi"
)

// closedQueues returns one closed queue per count, queue i holding
// counts[i] messages "s<i>-<j>", each sent alone with an ack recorded in
// log, and the values in order per queue.
func closedQueues(t *testing.T, log *ackLog, counts ...int) ([]sluice.Source[string], [][]string) {
	t.Helper()
	srcs := make([]sluice.Source[string], len(counts))
	sent := make([][]string, len(counts))
	for i, n := range counts {
		q := memory.New[string](n)
		for j := range n {
			v := fmt.Sprintf("s%d-%d", i, j)
			if err := q.Send(t.Context(), log.ack(v), msg(v)); err != nil {
				t.Fatal(err)
			}
			sent[i] = append(sent[i], v)
		}
		q.Close()
		srcs[i] = q
	}
	return srcs, sent
}

func TestSourceMerges(t *testing.T) {
	tests := []struct {
		name   string
		counts []int // messages per source
	}{
		{"one source", []int{5}},
		{"three sources", []int{3, 3, 3}},
		{"uneven", []int{7, 0, 2}},
		{"all empty", []int{0, 0}},
		{"many sources", []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := newAckLog()
			srcs, sent := closedQueues(t, log, tc.counts...)
			s, err := multi.NewSource(srcs...)
			if err != nil {
				t.Fatal(err)
			}
			rn := start(t, t.Context(), s)

			got := make([][]string, len(srcs)) // per source, in the order received
			for {
				m, ack, err := s.Recv(t.Context())
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("Recv: %v", err)
				}
				var i, j int
				if _, err := fmt.Sscanf(m.Value, "s%d-%d", &i, &j); err != nil {
					t.Fatalf("unexpected message %q", m.Value)
				}
				got[i] = append(got[i], m.Value)
				if n := log.count(m.Value); n != 0 {
					t.Errorf("%s acked %d times before its ack was called", m.Value, n)
				}
				ack()
				if n := log.count(m.Value); n != 1 {
					t.Errorf("ack of %s reached its source %d times, want 1", m.Value, n)
				}
			}
			for i := range sent {
				if !slices.Equal(got[i], sent[i]) {
					t.Errorf("source %d: got %q, want %q (in order)", i, got[i], sent[i])
				}
			}
			if n, want := log.len(), len(slices.Concat(sent...)); n != want {
				t.Errorf("got %d messages acked, want %d", n, want)
			}
			// Every source is exhausted and none is a Runner: Run ends.
			if err := rn.wait(t); err != nil {
				t.Errorf("Run: got %v, want nil", err)
			}
			for range 2 {
				if _, _, err := s.Recv(t.Context()); err != io.EOF {
					t.Errorf("Recv after Run ended: got %v, want io.EOF", err)
				}
			}
		})
	}
}

func TestSourceEOFWaitsForEverySource(t *testing.T) {
	done := memory.New[string](1)
	done.Close()
	live := memory.New[string](1)
	s, err := multi.NewSource[string](done, live)
	if err != nil {
		t.Fatal(err)
	}
	rn := start(t, t.Context(), s)

	for _, v := range []string{"a", "b"} {
		if err := live.Send(t.Context(), nil, msg(v)); err != nil {
			t.Fatal(err)
		}
		m, _, err := s.Recv(t.Context())
		if err != nil || m.Value != v {
			t.Fatalf("Recv with one source exhausted: got %q, %v; want %q, nil", m.Value, err, v)
		}
	}
	live.Close()
	if _, _, err := s.Recv(t.Context()); err != io.EOF {
		t.Fatalf("Recv after the last source ended: got %v, want io.EOF", err)
	}
	if err := rn.wait(t); err != nil {
		t.Errorf("Run: got %v, want nil", err)
	}
}

// TestSourceEOFKeepsRunners checks that exhausting every source does not
// stop the sources' runners, which may still be handling acks.
func TestSourceEOFKeepsRunners(t *testing.T) {
	q := memory.New[string](1)
	q.Close()
	r := newRunnerSource(q, untilDone)
	s, err := multi.NewSource[string](r)
	if err != nil {
		t.Fatal(err)
	}
	rn := start(t, t.Context(), s)
	if _, _, err := s.Recv(t.Context()); err != io.EOF {
		t.Fatalf("Recv: got %v, want io.EOF", err)
	}
	if r.hasStopped() {
		t.Error("the source's Run stopped when the source was exhausted")
	}
	if err := rn.stop(t); err != nil {
		t.Errorf("Run: got %v, want nil", err)
	}
	if !r.hasStopped() {
		t.Error("Run returned before the source's Run")
	}
	if _, _, err := s.Recv(t.Context()); err != io.EOF {
		t.Errorf("Recv after Run ended: got %v, want io.EOF", err)
	}
}

func TestSourceFails(t *testing.T) {
	failAfter := func(n int) sluice.Source[string] {
		var calls int
		return sluice.SourceFunc[string](func(ctx context.Context) (sluice.Message[string], func(), error) {
			calls++
			if calls > n {
				return sluice.Message[string]{}, nil, errBoom
			}
			return msg(fmt.Sprint(calls)), sluice.Noop, nil
		})
	}
	tests := []struct {
		name    string
		failing sluice.Source[string] // placed at index 1
		msgs    int                   // messages before the failure
		want    string
	}{
		{"recv at once", failAfter(0), 0, "multi: source 1: boom"},
		{"recv after messages", failAfter(2), 2, "multi: source 1: boom"},
		{"run", newRunnerSource(blockingSource(), func(context.Context) error { return errBoom }), 0, "multi: source 1: run: boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			other := newRunnerSource(blockingSource(), untilDone)
			s, err := multi.NewSource(other, tc.failing)
			if err != nil {
				t.Fatal(err)
			}
			rn := start(t, t.Context(), s)
			for i := range tc.msgs {
				if _, _, err := s.Recv(t.Context()); err != nil {
					t.Fatalf("Recv %d: %v", i, err)
				}
			}
			err = rn.wait(t)
			if !errors.Is(err, errBoom) || err.Error() != tc.want {
				t.Errorf("Run: got %v, want %q", err, tc.want)
			}
			if !other.hasStopped() {
				t.Error("Run returned before the other source's Run")
			}
			if _, _, err := s.Recv(t.Context()); !errors.Is(err, errBoom) || err.Error() != tc.want {
				t.Errorf("Recv: got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSourceRunsRunners(t *testing.T) {
	type key struct{}
	var ctxValues []any
	var mu sync.Mutex
	run := func(ctx context.Context) error {
		mu.Lock()
		ctxValues = append(ctxValues, ctx.Value(key{}))
		mu.Unlock()
		<-ctx.Done()
		return ctx.Err() // stopping with ctx's error is a clean stop
	}
	q := memory.New[string](1)
	a, b := newRunnerSource(q, run), newRunnerSource(blockingSource(), run)
	s, err := multi.NewSource[string](a, b, blockingSource())
	if err != nil {
		t.Fatal(err)
	}
	rn := start(t, context.WithValue(t.Context(), key{}, "v"), s)
	<-a.started
	<-b.started
	if err := q.Send(t.Context(), nil, msg("x")); err != nil {
		t.Fatal(err)
	}
	if m, _, err := s.Recv(t.Context()); err != nil || m.Value != "x" {
		t.Fatalf("Recv: got %q, %v; want %q, nil", m.Value, err, "x")
	}
	if err := rn.stop(t); err != nil {
		t.Errorf("Run: got %v, want nil", err)
	}
	if !a.hasStopped() || !b.hasStopped() {
		t.Error("Run returned before the sources' Run")
	}
	if want := []any{"v", "v"}; !slices.Equal(ctxValues, want) {
		t.Errorf("sources' Run got ctx values %v, want %v", ctxValues, want)
	}
}

func TestSourceCancel(t *testing.T) {
	t.Run("run", func(t *testing.T) {
		s, err := multi.NewSource(blockingSource(), blockingSource())
		if err != nil {
			t.Fatal(err)
		}
		rn := start(t, t.Context(), s)
		errc := make(chan error, 1)
		go func() {
			_, _, err := s.Recv(t.Context())
			errc <- err
		}()
		if err := rn.stop(t); err != nil {
			t.Errorf("Run: got %v, want nil", err)
		}
		if err := <-errc; !errors.Is(err, sluice.ErrClosed) {
			t.Errorf("blocked Recv: got %v, want ErrClosed", err)
		}
		if _, _, err := s.Recv(t.Context()); !errors.Is(err, sluice.ErrClosed) {
			t.Errorf("Recv after Run: got %v, want ErrClosed", err)
		}
	})

	t.Run("recv", func(t *testing.T) {
		s, err := multi.NewSource(blockingSource())
		if err != nil {
			t.Fatal(err)
		}
		start(t, t.Context(), s)
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() {
			_, _, err := s.Recv(ctx)
			errc <- err
		}()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Recv: got %v, want context.Canceled", err)
		}
	})

	t.Run("pre-cancelled recv takes nothing", func(t *testing.T) {
		q := memory.New[string](1)
		if err := q.Send(t.Context(), nil, msg("x")); err != nil {
			t.Fatal(err)
		}
		s, err := multi.NewSource[string](q)
		if err != nil {
			t.Fatal(err)
		}
		start(t, t.Context(), s)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for range 3 {
			if _, _, err := s.Recv(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("Recv: got %v, want context.Canceled", err)
			}
		}
		if m, _, err := s.Recv(t.Context()); err != nil || m.Value != "x" {
			t.Errorf("Recv: got %q, %v; want %q, nil", m.Value, err, "x")
		}
	})

	t.Run("held message is not acked", func(t *testing.T) {
		received := make(chan struct{})
		log := newAckLog()
		var calls int
		src := sluice.SourceFunc[string](func(ctx context.Context) (sluice.Message[string], func(), error) {
			if calls++; calls == 1 {
				close(received)
				return msg("held"), log.ack("held"), nil
			}
			<-ctx.Done()
			return sluice.Message[string]{}, nil, ctx.Err()
		})
		s, err := multi.NewSource[string](src)
		if err != nil {
			t.Fatal(err)
		}
		rn := start(t, t.Context(), s)
		<-received // the goroutine holds the message; nobody calls Recv
		if err := rn.stop(t); err != nil {
			t.Errorf("Run: got %v, want nil", err)
		}
		if n := log.count("held"); n != 0 {
			t.Errorf("held message acked %d times, want 0", n)
		}
		if _, _, err := s.Recv(t.Context()); !errors.Is(err, sluice.ErrClosed) {
			t.Errorf("Recv after Run: got %v, want ErrClosed", err)
		}
	})
}

func TestSourceRecvBeforeRun(t *testing.T) {
	q := memory.New[string](1)
	if err := q.Send(t.Context(), nil, msg("x")); err != nil {
		t.Fatal(err)
	}
	s, err := multi.NewSource[string](q)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, _, err := s.Recv(ctx)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Recv before Run, ctx cancelled: got %v, want context.Canceled", err)
	}

	type result struct {
		v   string
		err error
	}
	res := make(chan result, 1)
	go func() {
		m, _, err := s.Recv(t.Context())
		res <- result{m.Value, err}
	}()
	start(t, t.Context(), s)
	if r := <-res; r.err != nil || r.v != "x" {
		t.Errorf("Recv before Run: got %q, %v; want %q, nil", r.v, r.err, "x")
	}
}

func TestSourceConcurrentRecv(t *testing.T) {
	const sources, perSource, receivers = 4, 200, 4
	counts := make([]int, sources)
	for i := range counts {
		counts[i] = perSource
	}
	log := newAckLog()
	srcs, _ := closedQueues(t, log, counts...)
	s, err := multi.NewSource(srcs...)
	if err != nil {
		t.Fatal(err)
	}
	rn := start(t, t.Context(), s)
	var wg sync.WaitGroup
	for range receivers {
		wg.Go(func() {
			for {
				_, ack, err := s.Recv(t.Context())
				if err != nil {
					if err != io.EOF {
						t.Errorf("Recv: %v", err)
					}
					return
				}
				ack()
			}
		})
	}
	wg.Wait()
	if n := log.len(); n != sources*perSource {
		t.Errorf("got %d messages acked, want %d", n, sources*perSource)
	}
	if err := rn.wait(t); err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestSourceRunTwice(t *testing.T) {
	r := newRunnerSource(blockingSource(), untilDone)
	s, err := multi.NewSource[string](r)
	if err != nil {
		t.Fatal(err)
	}
	rn := start(t, t.Context(), s)
	<-r.started // the first Run is running
	if err := s.Run(t.Context()); !errors.Is(err, sluice.ErrAlreadyRunning) {
		t.Errorf("second Run: got %v, want ErrAlreadyRunning", err)
	}
	if err := rn.stop(t); err != nil {
		t.Errorf("first Run: %v", err)
	}
}

func TestNewSource(t *testing.T) {
	tests := []struct {
		name    string
		srcs    []sluice.Source[string]
		wantErr string // "" for success
	}{
		{"one", []sluice.Source[string]{memory.New[string](1)}, ""},
		{"none", nil, "multi: new source: no sources"},
		{"nil", []sluice.Source[string]{memory.New[string](1), nil}, "multi: new source: source 1 is nil"},
		{"nil pointer", []sluice.Source[string]{(*memory.Queue[string])(nil)}, "multi: new source: source 0 is nil"},
		{"nil func", []sluice.Source[string]{sluice.SourceFunc[string](nil)}, "multi: new source: source 0 is nil"},
		{"two nil", []sluice.Source[string]{nil, nil}, "multi: new source: source 0 is nil\nsource 1 is nil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := multi.NewSource(tc.srcs...)
			if tc.wantErr == "" {
				if err != nil || s == nil {
					t.Fatalf("got %v, %v; want a Source", s, err)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr || s != nil {
				t.Errorf("got %v, %v; want nil, %q", s, err, tc.wantErr)
			}
		})
	}
}

// A source that fails stops the others, and those may fail in turn with
// an error that is only the effect of being stopped ("closed"): Recv and
// Run must still say the first cause, never such an error alone.
func TestSourceFailureCauseFirst(t *testing.T) {
	errClosed := errors.New("closed")
	for range 300 {
		fire := make(chan struct{})
		srcs := []sluice.Source[string]{sluice.SourceFunc[string](func(ctx context.Context) (sluice.Message[string], func(), error) {
			<-fire
			return sluice.Message[string]{}, nil, errBoom
		})}
		for range 4 {
			srcs = append(srcs, sluice.SourceFunc[string](func(ctx context.Context) (sluice.Message[string], func(), error) {
				<-ctx.Done()
				return sluice.Message[string]{}, nil, errClosed
			}))
		}
		s, err := multi.NewSource(srcs...)
		if err != nil {
			t.Fatal(err)
		}
		rn := start(t, t.Context(), s)
		close(fire)
		if _, _, err := s.Recv(t.Context()); !errors.Is(err, errBoom) {
			t.Fatalf("Recv: got %v, want the cause, %v", err, errBoom)
		}
		if err := rn.wait(t); !errors.Is(err, errBoom) {
			t.Fatalf("Run: got %v, want the cause, %v", err, errBoom)
		}
	}
}
