package sluice_test

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/memory"
)

// counter is an ack that counts its calls.
type counter struct{ n atomic.Int64 }

func (c *counter) ack()       { c.n.Add(1) }
func (c *counter) get() int64 { return c.n.Load() }

// eventually polls cond until it holds or a deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func run[T1, T2 any](t *testing.T, ctx context.Context, c sluice.Config[T1, T2], opts ...sluice.Option) <-chan error {
	t.Helper()
	p, err := sluice.New(c, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return done
}

func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func msg(s string) sluice.Message[string] { return sluice.Message[string]{Value: s} }

// Semantics 1: Run blocks until its context is cancelled, then returns nil.
func TestRunReturnsNilWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	src, dst := memory.New[string](0), memory.New[string](0)
	done := run(t, ctx, sluice.Config[string, string]{Source: src, Destination: dst, Handler: sluice.Pipe[string]()}, sluice.Parallelism(3))
	var c counter
	if err := src.Send(ctx, c.ack, msg("a")); err != nil {
		t.Fatal(err)
	}
	got, ack, err := dst.Recv(ctx)
	if err != nil || got.Value != "a" {
		t.Fatalf("got %v %v, want a", got, err)
	}
	ack()
	select {
	case err := <-done:
		t.Fatalf("Run returned %v before cancel", err)
	default:
	}
	cancel()
	if err := wait(t, done); err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}
	if c.get() != 1 {
		t.Errorf("ack called %d times, want 1", c.get())
	}
}

// Semantics 1: a failing stage's error is returned, wrapped with the
// stage's name, and errors.Is sees through the wrapping.
func TestRunReturnsFirstStageError(t *testing.T) {
	boom := errors.New("boom")
	failSource := sluice.SourceFunc[string](func(context.Context) (sluice.Message[string], func(), error) {
		return sluice.Message[string]{}, nil, boom
	})
	okSource := sluice.SourceFunc[string](func(context.Context) (sluice.Message[string], func(), error) {
		return msg("x"), sluice.Noop, nil
	})
	failHandler := sluice.HandlerFunc[string, string](func(context.Context, sluice.Message[string]) ([]sluice.Message[string], error) {
		return nil, boom
	})
	failDest := sluice.DestinationFunc[string](func(context.Context, func(), ...sluice.Message[string]) error { return boom })
	okDest := sluice.DestinationFunc[string](func(_ context.Context, ack func(), _ ...sluice.Message[string]) error {
		sluice.Ack(ack)
		return nil
	})
	for _, tc := range []struct {
		name   string
		cfg    sluice.Config[string, string]
		prefix string
	}{
		{"source", sluice.Config[string, string]{Source: failSource, Destination: okDest, Handler: sluice.Pipe[string]()}, "source: "},
		{"handler", sluice.Config[string, string]{Source: okSource, Destination: okDest, Handler: failHandler}, "handler: "},
		{"destination", sluice.Config[string, string]{Source: okSource, Destination: failDest, Handler: sluice.Pipe[string]()}, "destination: "},
		{"destination after handler", sluice.Config[string, string]{Source: okSource, Destination: failDest,
			Handler: sluice.HandlerFunc[string, string](func(_ context.Context, m sluice.Message[string]) ([]sluice.Message[string], error) {
				return []sluice.Message[string]{m, m}, nil
			})}, "destination: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := wait(t, run(t, t.Context(), tc.cfg, sluice.Parallelism(4)))
			if !errors.Is(err, boom) {
				t.Fatalf("Run = %v, want errors.Is boom", err)
			}
			if !strings.HasPrefix(err.Error(), tc.prefix) {
				t.Errorf("Run = %q, want prefix %q", err, tc.prefix)
			}
			var se *sluice.StageError
			if !errors.As(err, &se) || se.Stage+": " != tc.prefix {
				t.Errorf("errors.As StageError = %+v", se)
			}
		})
	}
}

// Semantics 1: the outcome never depends on select ordering. One loop
// fails; the other loops then see their context cancelled and return
// errors of their own, and the destination's runner stops with one too.
// Run returns the first failure every time. When the parent is cancelled
// instead, every loop returns an error and Run returns nil every time.
func TestRunOutcomeDoesNotDependOnSelectOrder(t *testing.T) {
	boom := errors.New("boom")
	blocked := func(ctx context.Context) (sluice.Message[string], func(), error) {
		<-ctx.Done()
		return sluice.Message[string]{}, nil, errors.Join(errors.New("connection closed"), ctx.Err())
	}
	for i := range 200 {
		var calls atomic.Int64
		src := sluice.SourceFunc[string](func(ctx context.Context) (sluice.Message[string], func(), error) {
			if calls.Add(1) == 4 {
				return sluice.Message[string]{}, nil, boom
			}
			return blocked(ctx)
		})
		r := &runner{Destination: memory.New[string](0), err: errors.New("late runner error")}
		err := wait(t, run(t, t.Context(), sluice.Config[string, string]{Source: src, Destination: r, Handler: sluice.Pipe[string]()}, sluice.Parallelism(8)))
		if !errors.Is(err, boom) {
			t.Fatalf("run %d: Run = %v, want boom", i, err)
		}

		ctx, cancel := context.WithCancel(t.Context())
		calls.Store(0)
		src = sluice.SourceFunc[string](func(ctx context.Context) (sluice.Message[string], func(), error) {
			if calls.Add(1) == 4 {
				cancel()
			}
			return blocked(ctx)
		})
		r = &runner{Destination: memory.New[string](0), err: context.Canceled}
		if err := wait(t, run(t, ctx, sluice.Config[string, string]{Source: src, Destination: r, Handler: sluice.Pipe[string]()}, sluice.Parallelism(8))); err != nil {
			t.Fatalf("run %d: Run after cancel = %v, want nil", i, err)
		}
	}
}

// runner is a Source or Destination with a Run method that records its
// life.
type runner struct {
	sluice.Destination[string]
	started, stopped atomic.Bool
	err              error
}

func (r *runner) Run(ctx context.Context) error {
	r.started.Store(true)
	<-ctx.Done()
	if r.err == nil {
		time.Sleep(20 * time.Millisecond) // a slow stop: Run must wait for it
	}
	r.stopped.Store(true)
	return r.err
}

// Semantics 1: Run returns only after every goroutine it started has
// stopped, the runners of its source and destination included.
func TestRunWaitsForEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(t.Context())
	r := &runner{Destination: memory.New[string](0)}
	done := run(t, ctx, sluice.Config[string, string]{Source: memory.New[string](0), Destination: r, Handler: sluice.Pipe[string]()}, sluice.Parallelism(8))
	eventually(t, "runner to start", r.started.Load)
	cancel()
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
	if !r.stopped.Load() {
		t.Error("Run returned before the destination's Run stopped")
	}
	eventually(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before+1 })
}

// A runner's failure is fatal like a stage's.
func TestRunnerErrorIsFatal(t *testing.T) {
	boom := errors.New("boom")
	r := &runner{Destination: memory.New[string](0), err: boom}
	src := sluice.SourceFunc[string](func(ctx context.Context) (sluice.Message[string], func(), error) {
		return sluice.Message[string]{}, nil, io.EOF
	})
	// The source ends at once; the runner is stopped and its error returned.
	err := wait(t, run(t, t.Context(), sluice.Config[string, string]{Source: src, Destination: r, Handler: sluice.Pipe[string]()}))
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "destination: run: ") {
		t.Errorf("Run = %v, want destination: run: boom", err)
	}
}

// io.EOF from the source ends Run cleanly once every message is through.
func TestRunEndsAtEOF(t *testing.T) {
	src, dst := memory.New[string](0), memory.New[string](100)
	var c counter
	for _, s := range []string{"a", "b", "c"} {
		if err := src.Send(t.Context(), c.ack, msg(s)); err != nil {
			t.Fatal(err)
		}
	}
	src.Close()
	if err := wait(t, run(t, t.Context(), sluice.Config[string, string]{Source: src, Destination: dst, Handler: sluice.Pipe[string]()}, sluice.Parallelism(2))); err != nil {
		t.Fatalf("Run = %v, want nil at EOF", err)
	}
	if dst.Len() != 3 {
		t.Errorf("destination holds %d, want 3", dst.Len())
	}
}

// Semantics 2: a handler that returns zero messages and no error: the
// processor acks the source message.
func TestFilteredMessageIsAcked(t *testing.T) {
	src, dst := memory.New[string](0), memory.New[string](0)
	drop := sluice.HandlerFunc[string, string](func(context.Context, sluice.Message[string]) ([]sluice.Message[string], error) {
		return nil, nil
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := run(t, ctx, sluice.Config[string, string]{Source: src, Destination: dst, Handler: drop})
	var c counter
	if err := src.Send(ctx, c.ack, msg("a"), msg("b")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "filtered messages to be acked", func() bool { return c.get() == 1 })
	cancel()
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
	if dst.Len() != 0 {
		t.Errorf("destination got %d messages, want 0", dst.Len())
	}
}

// Semantics 3: a handler error: that message is not acked and Run returns
// the error.
func TestHandlerErrorIsNotAcked(t *testing.T) {
	boom := errors.New("bad event")
	src, dst := memory.New[string](0), memory.New[string](10)
	h := sluice.HandlerFunc[string, string](func(_ context.Context, m sluice.Message[string]) ([]sluice.Message[string], error) {
		if m.Value == "bad" {
			return nil, boom
		}
		return []sluice.Message[string]{m}, nil
	})
	var good, bad counter
	if err := src.Send(t.Context(), good.ack, msg("ok")); err != nil {
		t.Fatal(err)
	}
	if err := src.Send(t.Context(), bad.ack, msg("bad")); err != nil {
		t.Fatal(err)
	}
	err := wait(t, run(t, t.Context(), sluice.Config[string, string]{Source: src, Destination: dst, Handler: h}))
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "handler: ") {
		t.Fatalf("Run = %v, want handler: bad event", err)
	}
	m, ack, err := dst.Recv(t.Context())
	if err != nil || m.Value != "ok" {
		t.Fatalf("destination got %v, %v", m, err)
	}
	ack()
	if good.get() != 1 || bad.get() != 0 {
		t.Errorf("acks: good %d, bad %d; want 1, 0", good.get(), bad.get())
	}
}

// lateAcker is a destination that holds acks until released, as a
// batching destination does before its flush.
type lateAcker struct {
	mu    sync.Mutex
	sends []heldSend
}

type heldSend struct {
	ack  func()
	msgs int
}

func (d *lateAcker) Send(ctx context.Context, ack func(), msgs ...sluice.Message[string]) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	d.sends = append(d.sends, heldSend{ack, len(msgs)})
	d.mu.Unlock()
	return nil
}

// release acks the oldest Sends that hold n messages in all, and returns
// how many messages it acked (more than n if a Send holds more).
func (d *lateAcker) release(n int) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	acked := 0
	for acked < n && len(d.sends) > 0 {
		sluice.Ack(d.sends[0].ack)
		acked += d.sends[0].msgs
		d.sends = d.sends[1:]
	}
	return acked
}

// lateBatchAcker is a lateAcker that is also a BatchDestination: it
// holds the ack of each message of a SendBatch on its own.
type lateBatchAcker struct{ lateAcker }

func (d *lateBatchAcker) SendBatch(ctx context.Context, msgs []sluice.Message[string], acks []func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	for _, a := range acks[:len(msgs)] {
		d.sends = append(d.sends, heldSend{a, 1})
	}
	d.mu.Unlock()
	return nil
}

func (d *lateAcker) held() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, s := range d.sends {
		n += s.msgs
	}
	return n
}

// Semantics 4: the source's ack is called only when the destination acks,
// and a message received but not yet acked when Run stops is never acked.
// The same holds for a source that hands over batches, whose messages go
// on in one Send (and so are acked together), and for batches to a
// BatchDestination, which acks each message of a batch on its own: it
// acks only the first two of the four here.
func TestAckOnlyAfterDestinationAcks(t *testing.T) {
	for _, tc := range []struct {
		name        string
		batch, each bool
	}{{"one by one", false, false}, {"batches", true, false}, {"batches to a BatchDestination", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			q := memory.New[string](0)
			var src sluice.Source[string] = sluice.SourceFunc[string](q.Recv) // hides RecvBatch
			if tc.batch {
				src = q
			}
			dst := &lateBatchAcker{}
			var d sluice.Destination[string] = &dst.lateAcker // Send only
			if tc.each {
				d = dst
			}
			ctx, cancel := context.WithCancel(t.Context())
			acks := make([]*counter, 4)
			for i := range acks {
				acks[i] = new(counter)
				if err := q.Send(ctx, acks[i].ack, msg("m")); err != nil {
					t.Fatal(err)
				}
			}
			done := run(t, ctx, sluice.Config[string, string]{Source: src, Destination: d, Handler: sluice.Pipe[string]()})
			eventually(t, "4 messages sent", func() bool { return dst.held() == 4 })
			for i, c := range acks {
				if c.get() != 0 {
					t.Fatalf("message %d acked before the destination acked", i)
				}
			}
			released := dst.release(2)
			if (!tc.batch || tc.each) && released != 2 {
				t.Fatalf("%d messages in the first two acks, want 2", released)
			}
			cancel()
			if err := wait(t, done); err != nil {
				t.Fatal(err)
			}
			for i, c := range acks {
				if want := int64(min(1, max(0, released-i))); c.get() != want {
					t.Errorf("message %d acked %d times, want %d", i, c.get(), want)
				}
			}
		})
	}
}

// Semantics 5: Parallelism(n) runs n loops at once.
func TestParallelismRunsNLoops(t *testing.T) {
	for _, n := range []int{1, 2, 7} {
		t.Run("", func(t *testing.T) {
			var inRecv atomic.Int64
			all := make(chan struct{})
			var once sync.Once
			src := sluice.SourceFunc[string](func(ctx context.Context) (sluice.Message[string], func(), error) {
				if inRecv.Add(1) == int64(n) {
					once.Do(func() { close(all) })
				}
				select { // block until every loop is in Recv at once
				case <-all:
					return sluice.Message[string]{}, nil, io.EOF
				case <-ctx.Done():
					return sluice.Message[string]{}, nil, ctx.Err()
				}
			})
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			if err := wait(t, run(t, ctx, sluice.Config[string, string]{Source: src, Destination: memory.New[string](0), Handler: sluice.Pipe[string]()}, sluice.Parallelism(n))); err != nil {
				t.Fatal(err)
			}
			if ctx.Err() != nil {
				t.Fatalf("only %d of %d loops ran at once", inRecv.Load(), n)
			}
		})
	}
}

// Semantics 6: misuse returns an error, never a panic.
func TestMisuseIsAnError(t *testing.T) {
	q := memory.New[string](0)
	var nilQueue *memory.Queue[string]
	var nilFunc sluice.SourceFunc[string]
	for _, tc := range []struct {
		name string
		cfg  sluice.Config[string, string]
		opts []sluice.Option
		want string
	}{
		{"nil source", sluice.Config[string, string]{Destination: q, Handler: sluice.Pipe[string]()}, nil, "source is nil"},
		{"typed nil source", sluice.Config[string, string]{Source: nilQueue, Destination: q, Handler: sluice.Pipe[string]()}, nil, "source is nil"},
		{"nil func source", sluice.Config[string, string]{Source: nilFunc, Destination: q, Handler: sluice.Pipe[string]()}, nil, "source is nil"},
		{"nil destination", sluice.Config[string, string]{Source: q, Handler: sluice.Pipe[string]()}, nil, "destination is nil"},
		{"nil handler", sluice.Config[string, string]{Source: q, Destination: q}, nil, "handler is nil"},
		{"parallelism 0", sluice.Config[string, string]{Source: q, Destination: q, Handler: sluice.Pipe[string]()}, []sluice.Option{sluice.Parallelism(0)}, "parallelism must be at least 1"},
		{"parallelism -1", sluice.Config[string, string]{Source: q, Destination: q, Handler: sluice.Pipe[string]()}, []sluice.Option{sluice.Parallelism(-1)}, "parallelism must be at least 1"},
		{"nil option and logger", sluice.Config[string, string]{Source: q, Destination: q}, []sluice.Option{nil, sluice.WithLogger(nil)}, "handler is nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := sluice.New(tc.cfg, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, %v; want error containing %q", p, err, tc.want)
			}
		})
	}
	t.Run("second Run", func(t *testing.T) {
		inRecv := make(chan struct{})
		var once sync.Once
		src := sluice.SourceFunc[string](func(ctx context.Context) (sluice.Message[string], func(), error) {
			once.Do(func() { close(inRecv) })
			<-ctx.Done()
			return sluice.Message[string]{}, nil, ctx.Err()
		})
		p, err := sluice.New(sluice.Config[string, string]{Source: src, Destination: q, Handler: sluice.Pipe[string]()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		<-inRecv
		if err := p.Run(ctx); !errors.Is(err, sluice.ErrAlreadyRunning) {
			t.Errorf("second Run = %v, want ErrAlreadyRunning", err)
		}
		cancel()
		if err := wait(t, done); err != nil {
			t.Fatal(err)
		}
		if err := p.Run(t.Context()); !errors.Is(err, sluice.ErrAlreadyRunning) {
			t.Errorf("Run after stop = %v, want ErrAlreadyRunning", err)
		}
	})
	t.Run("nil ack from source", func(t *testing.T) {
		calls := 0
		src := sluice.SourceFunc[string](func(context.Context) (sluice.Message[string], func(), error) {
			if calls++; calls > 1 {
				return sluice.Message[string]{}, nil, io.EOF
			}
			return msg("x"), nil, nil
		})
		drop := sluice.HandlerFunc[string, string](func(context.Context, sluice.Message[string]) ([]sluice.Message[string], error) { return nil, nil })
		if err := wait(t, run(t, t.Context(), sluice.Config[string, string]{Source: src, Destination: q, Handler: drop})); err != nil {
			t.Fatal(err)
		}
	})
}

// Semantics 7: New does no I/O and starts no goroutine.
func TestNewDoesNothing(t *testing.T) {
	var calls atomic.Int64
	src := sluice.SourceFunc[string](func(context.Context) (sluice.Message[string], func(), error) {
		calls.Add(1)
		return sluice.Message[string]{}, nil, io.EOF
	})
	dst := &runner{Destination: sluice.DestinationFunc[string](func(context.Context, func(), ...sluice.Message[string]) error {
		calls.Add(1)
		return nil
	})}
	before := runtime.NumGoroutine()
	for range 10 {
		if _, err := sluice.New(sluice.Config[string, string]{Source: src, Destination: dst, Handler: sluice.Pipe[string]()}, sluice.Parallelism(4)); err != nil {
			t.Fatal(err)
		}
	}
	if after := runtime.NumGoroutine(); after != before {
		t.Errorf("goroutines: %d before New, %d after", before, after)
	}
	if calls.Load() != 0 || dst.started.Load() {
		t.Errorf("New called the source or destination (%d calls, run started %v)", calls.Load(), dst.started.Load())
	}
}

// Hooks see every stage with its outcome.
func TestHooks(t *testing.T) {
	src, dst := memory.New[string](0), memory.New[string](10)
	var recv, handle, send, sent atomic.Int64
	hooks := sluice.Hooks{
		Recv: func(ctx context.Context) (context.Context, func(error)) {
			return ctx, func(err error) {
				if err == nil {
					recv.Add(1)
				}
			}
		},
		Handle: func(ctx context.Context) (context.Context, func(int, error)) {
			return ctx, func(out int, err error) { handle.Add(int64(out)) }
		},
		Send: func(ctx context.Context, n int) (context.Context, func(error)) {
			sent.Add(int64(n))
			return ctx, func(error) { send.Add(1) }
		},
	}
	double := sluice.HandlerFunc[string, string](func(_ context.Context, m sluice.Message[string]) ([]sluice.Message[string], error) {
		return []sluice.Message[string]{m, m}, nil
	})
	for _, h := range []sluice.Handler[string, string]{sluice.Pipe[string](), double} {
		recv.Store(0)
		handle.Store(0)
		send.Store(0)
		sent.Store(0)
		for range 3 {
			if err := src.Send(t.Context(), nil, msg("x")); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := run(t, ctx, sluice.Config[string, string]{Source: src, Destination: dst, Handler: h}, sluice.WithHooks(hooks))
		eventually(t, "3 sends", func() bool { return send.Load() == 3 })
		cancel()
		if err := wait(t, done); err != nil {
			t.Fatal(err)
		}
		for dst.Len() > 0 {
			_, ack, _ := dst.Recv(t.Context())
			ack()
		}
		wantOut, wantSent := int64(6), int64(6)
		if _, ok := h.(sluice.HandlerFunc[string, string]); !ok {
			wantOut, wantSent = 0, 3 // Pipe is not called
		}
		if recv.Load() != 3 || handle.Load() != wantOut || sent.Load() != wantSent {
			t.Errorf("hooks saw recv %d, handle out %d, sent %d", recv.Load(), handle.Load(), sent.Load())
		}
	}
}

// A source that hands over batches: every message reaches the destination
// once, in order, each source ack is called exactly once after the
// destination's, and io.EOF ends Run cleanly.
func TestBatchSourceKeepsOrderAndAcksEach(t *testing.T) {
	const n = 3000
	src, dst := memory.New[int](64), memory.New[int](64)
	done := run(t, t.Context(), sluice.Config[int, int]{Source: src, Destination: dst, Handler: sluice.Pipe[int]()})
	acks := make([]counter, n)
	go func() {
		for i := range n {
			if err := src.Send(t.Context(), acks[i].ack, sluice.Message[int]{Value: i}); err != nil {
				return
			}
		}
		src.Close()
	}()
	for i := range n {
		m, ack, err := dst.Recv(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if m.Value != i {
			t.Fatalf("message %d arrived as the %dth", m.Value, i)
		}
		if i > 0 && acks[i].get() != 0 {
			t.Fatalf("message %d acked before the destination acked it", i)
		}
		ack()
	}
	if err := wait(t, done); err != nil {
		t.Fatalf("Run after EOF: %v", err)
	}
	for i := range acks {
		if got := acks[i].get(); got != 1 {
			t.Fatalf("message %d acked %d times", i, got)
		}
	}
}

// A batch's Send that fails stops Run with the destination's error, and
// none of the batch's messages is acked.
func TestBatchSendErrorIsFatal(t *testing.T) {
	src := memory.New[string](0)
	boom := errors.New("boom")
	var sent atomic.Int64
	dst := sluice.DestinationFunc[string](func(ctx context.Context, ack func(), msgs ...sluice.Message[string]) error {
		sent.Add(int64(len(msgs)))
		return boom
	})
	var c counter
	for range 10 {
		if err := src.Send(t.Context(), c.ack, msg("m")); err != nil {
			t.Fatal(err)
		}
	}
	err := wait(t, run(t, t.Context(), sluice.Config[string, string]{Source: src, Destination: dst, Handler: sluice.Pipe[string]()}))
	var se *sluice.StageError
	if !errors.Is(err, boom) || !errors.As(err, &se) || se.Stage != "destination" {
		t.Fatalf("Run = %v, want the destination's error", err)
	}
	if sent.Load() < 2 {
		t.Errorf("the first Send held %d messages: the batch path was not taken", sent.Load())
	}
	if c.get() != 0 {
		t.Errorf("%d messages acked after a failed Send", c.get())
	}
}

// A batch's SendBatch that fails after writing part of the batch stops Run
// with the destination's error; the messages it wrote are acked, and no
// other.
func TestBatchDestinationErrorIsFatal(t *testing.T) {
	src := memory.New[string](0)
	boom := errors.New("boom")
	var calls atomic.Int64
	dst := &failingBatch{written: 3, err: boom, calls: &calls}
	acks := make([]counter, 10)
	for i := range acks {
		if err := src.Send(t.Context(), acks[i].ack, msg("m")); err != nil {
			t.Fatal(err)
		}
	}
	err := wait(t, run(t, t.Context(), sluice.Config[string, string]{Source: src, Destination: dst, Handler: sluice.Pipe[string]()}))
	var se *sluice.StageError
	if !errors.Is(err, boom) || !errors.As(err, &se) || se.Stage != "destination" {
		t.Fatalf("Run = %v, want the destination's error", err)
	}
	if calls.Load() != 1 {
		t.Fatalf("SendBatch called %d times, want 1 (and Send never)", calls.Load())
	}
	for i := range acks {
		if want := int64(min(1, max(0, dst.written-i))); acks[i].get() != want {
			t.Errorf("message %d (of a batch of %d, %d written) acked %d times, want %d", i, dst.got, dst.written, acks[i].get(), want)
		}
	}
}

// failingBatch writes the first written messages of its first SendBatch,
// acks them, and fails.
type failingBatch struct {
	written, got int
	err          error
	calls        *atomic.Int64
}

func (d *failingBatch) Send(context.Context, func(), ...sluice.Message[string]) error {
	return errors.New("Send called on a BatchDestination in a batch loop")
}

func (d *failingBatch) SendBatch(_ context.Context, msgs []sluice.Message[string], acks []func()) error {
	d.calls.Add(1)
	d.got = len(msgs)
	d.written = min(d.written, len(msgs))
	for _, a := range acks[:d.written] {
		sluice.Ack(a)
	}
	return d.err
}

// The pass-through loops allocate nothing per message: one by one, and
// in batches to a BatchDestination. Batches to a plain Destination cost
// two allocations per batch (the ack that calls the batch's acks). Each
// case runs a Processor over a small and a large finite source and
// compares the allocations.
func TestPassThroughAllocatesNothingPerMessage(t *testing.T) {
	for _, tc := range []struct {
		name       string
		batchSrc   bool
		batchDst   bool
		sameAckAll bool
		perBatch   uint64
	}{
		{"one by one", false, false, true, 0},
		{"batches to a Destination", true, false, true, 2},
		{"batches to a BatchDestination", true, true, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			allocs := func(n int) uint64 {
				var acked atomic.Int64
				ack := sluice.AckOnce(func() { acked.Add(1) }) // one ack for all: AckOnce is free on it
				if !tc.sameAckAll {
					ack = func() { acked.Add(1) }
				}
				src := &countSource{n: n, ack: ack}
				dst := &countDest{}
				var s sluice.Source[int] = sluice.SourceFunc[int](src.Recv)
				if tc.batchSrc {
					s = src
				}
				var d sluice.Destination[int] = sluice.DestinationFunc[int](dst.Send)
				if tc.batchDst {
					d = dst
				}
				p, err := sluice.New(sluice.Config[int, int]{Source: s, Destination: d, Handler: sluice.Pipe[int]()})
				if err != nil {
					t.Fatal(err)
				}
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				before := ms.Mallocs
				if err := p.Run(t.Context()); err != nil {
					t.Fatal(err)
				}
				runtime.ReadMemStats(&ms)
				if dst.n != n {
					t.Fatalf("destination got %d messages, want %d", dst.n, n)
				}
				if tc.sameAckAll && acked.Load() != 1 || !tc.sameAckAll && acked.Load() != int64(n) {
					t.Fatalf("acked %d times for %d messages", acked.Load(), n)
				}
				return ms.Mallocs - before
			}
			small, large := allocs(1000), allocs(100_000)
			batches := uint64(100_000/sluice.RecvBatchSize - 1000/sluice.RecvBatchSize)
			if large > small+tc.perBatch*batches+100 {
				t.Errorf("99,000 more messages cost %d more allocations (%d for 1,000, %d for 100,000), want at most %d per batch",
					large-small, small, large, tc.perBatch)
			}
		})
	}
}

// countSource hands over n messages, all with one ack, then io.EOF. It is
// a BatchSource; it is not safe for concurrent use.
type countSource struct {
	n, i int
	ack  func()
}

func (s *countSource) Recv(ctx context.Context) (sluice.Message[int], func(), error) {
	if s.i == s.n {
		return sluice.Message[int]{}, nil, io.EOF
	}
	s.i++
	return sluice.Message[int]{Value: s.i}, s.ack, nil
}

func (s *countSource) RecvBatch(ctx context.Context, msgs []sluice.Message[int], acks []func()) (int, error) {
	if s.i == s.n {
		return 0, io.EOF
	}
	k := min(len(msgs), s.n-s.i)
	for j := range k {
		s.i++
		msgs[j], acks[j] = sluice.Message[int]{Value: s.i}, s.ack
	}
	return k, nil
}

// countDest counts messages and acks them at once. It is a
// BatchDestination; it is not safe for concurrent use.
type countDest struct{ n int }

func (d *countDest) Send(_ context.Context, ack func(), msgs ...sluice.Message[int]) error {
	d.n += len(msgs)
	sluice.Ack(ack)
	return nil
}

func (d *countDest) SendBatch(_ context.Context, msgs []sluice.Message[int], acks []func()) error {
	d.n += len(msgs)
	for _, a := range acks {
		sluice.Ack(a)
	}
	return nil
}

// A Send hook alone keeps the batch loops, and sees each SendBatch with
// the number of its messages.
func TestSendHookSeesBatches(t *testing.T) {
	src, dst := memory.New[string](0), memory.New[string](0)
	for range 5 {
		if err := src.Send(t.Context(), nil, msg("x")); err != nil {
			t.Fatal(err)
		}
	}
	src.Close()
	var sent, calls, failed atomic.Int64
	hooks := sluice.Hooks{Send: func(ctx context.Context, n int) (context.Context, func(error)) {
		sent.Add(int64(n))
		return ctx, func(err error) {
			calls.Add(1)
			if err != nil {
				failed.Add(1)
			}
		}
	}}
	if err := wait(t, run(t, t.Context(), sluice.Config[string, string]{Source: src, Destination: dst, Handler: sluice.Pipe[string]()}, sluice.WithHooks(hooks))); err != nil {
		t.Fatal(err)
	}
	if sent.Load() != 5 || calls.Load() != 1 || failed.Load() != 0 || dst.Len() != 5 {
		t.Errorf("hook saw %d messages in %d calls (%d failed), destination holds %d; want 5 in 1 SendBatch", sent.Load(), calls.Load(), failed.Load(), dst.Len())
	}
}
