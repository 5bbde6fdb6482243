package multi_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/memory"
	"github.com/sluicehq/sluice/multi"
)

// queues returns n queues of capacity c, as destinations too.
func queues(n, c int) ([]*memory.Queue[string], []sluice.Destination[string]) {
	qs := make([]*memory.Queue[string], n)
	dsts := make([]sluice.Destination[string], n)
	for i := range qs {
		qs[i] = memory.New[string](c)
		dsts[i] = qs[i]
	}
	return qs, dsts
}

func values(n int) []sluice.Message[string] {
	msgs := make([]sluice.Message[string], n)
	for i := range msgs {
		msgs[i] = msg(fmt.Sprint(i))
	}
	return msgs
}

func TestDestinationAcksAfterEveryDestination(t *testing.T) {
	tests := []struct {
		name  string
		dsts  int
		msgs  int
		order []int // the order in which the queues' messages are acked
		times int   // how often each received message is acked
	}{
		{"one destination", 1, 3, []int{0}, 1},
		{"two destinations", 2, 1, []int{0, 1}, 1},
		{"two destinations, acked in reverse", 2, 3, []int{1, 0}, 1},
		{"three destinations", 3, 2, []int{2, 0, 1}, 1},
		{"no messages", 3, 0, []int{0, 1, 2}, 1},
		{"one message acked twice", 2, 1, []int{0, 1}, 2},
		{"messages acked three times", 3, 2, []int{1, 2, 0}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			qs, dsts := queues(tc.dsts, tc.msgs+1)
			d, err := multi.NewDestination(dsts...)
			if err != nil {
				t.Fatal(err)
			}
			var fired atomic.Int32
			msgs := values(tc.msgs)
			if err := d.Send(t.Context(), func() { fired.Add(1) }, msgs...); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if tc.msgs == 0 { // each queue acks an empty Send at once
				if n := fired.Load(); n != 1 {
					t.Errorf("empty Send: ack fired %d times, want 1", n)
				}
				return
			}
			var acks [][]func() // per queue, in order
			for _, q := range qs {
				var qa []func()
				for j := range tc.msgs {
					m, ack, err := q.Recv(t.Context())
					if err != nil || m.Value != msgs[j].Value {
						t.Fatalf("queue Recv: got %q, %v; want %q", m.Value, err, msgs[j].Value)
					}
					qa = append(qa, ack)
				}
				acks = append(acks, qa)
			}
			for k, qi := range tc.order {
				for j, ack := range acks[qi] {
					if n := fired.Load(); n != 0 {
						t.Fatalf("ack fired %d times before queue %d acked message %d", n, qi, j)
					}
					for range tc.times {
						ack()
					}
				}
				if last := k == len(tc.order)-1; !last && fired.Load() != 0 {
					t.Fatalf("ack fired once queue %d acked, before queue %d", qi, tc.order[k+1])
				}
			}
			if n := fired.Load(); n != 1 {
				t.Errorf("after every ack: ack fired %d times, want 1", n)
			}
		})
	}
}

func TestDestinationError(t *testing.T) {
	tests := []struct {
		name    string
		dsts    int
		failing int
		want    string
	}{
		{"first of two", 2, 0, "multi: destination 0: boom"},
		{"second of three", 3, 1, "multi: destination 1: boom"},
		{"last of three", 3, 2, "multi: destination 2: boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			qs, dsts := queues(tc.dsts, 4)
			dsts[tc.failing] = sluice.DestinationFunc[string](func(context.Context, func(), ...sluice.Message[string]) error {
				return errBoom
			})
			d, err := multi.NewDestination(dsts...)
			if err != nil {
				t.Fatal(err)
			}
			var fired atomic.Int32
			err = d.Send(t.Context(), func() { fired.Add(1) }, values(2)...)
			if !errors.Is(err, errBoom) || err.Error() != tc.want {
				t.Fatalf("Send: got %v, want %q", err, tc.want)
			}
			for i, q := range qs {
				want := 2 // destinations before the failing one got the messages
				if i >= tc.failing {
					want = 0
				}
				if n := q.Len(); n != want {
					t.Errorf("queue %d: got %d messages, want %d", i, n, want)
				}
				for range q.Len() { // every destination that can ack does
					_, ack, err := q.Recv(t.Context())
					if err != nil {
						t.Fatal(err)
					}
					ack()
				}
			}
			if n := fired.Load(); n != 0 {
				t.Errorf("ack fired %d times after a destination failed, want 0", n)
			}
		})
	}
}

func TestDestinationAckFiresOnce(t *testing.T) {
	const dstsN, rounds = 3, 4
	var mu sync.Mutex
	var got []func() // acks given to the destinations
	dsts := make([]sluice.Destination[string], dstsN)
	for i := range dsts {
		dsts[i] = sluice.DestinationFunc[string](func(_ context.Context, ack func(), _ ...sluice.Message[string]) error {
			mu.Lock()
			got = append(got, ack)
			mu.Unlock()
			return nil
		})
	}
	d, err := multi.NewDestination(dsts...)
	if err != nil {
		t.Fatal(err)
	}
	var fired atomic.Int32
	if err := d.Send(t.Context(), func() { fired.Add(1) }, msg("x")); err != nil {
		t.Fatal(err)
	}
	// The first destination acks again and again: that stands in for no
	// other destination.
	for range rounds {
		got[0]()
	}
	if n := fired.Load(); n != 0 {
		t.Fatalf("ack fired %d times when one destination of %d acked", n, dstsN)
	}
	// Every destination acks, and then acks again, all at once: the
	// combined ack fires exactly once.
	var wg sync.WaitGroup
	for range rounds {
		for _, ack := range got {
			wg.Go(ack)
		}
	}
	wg.Wait()
	if n := fired.Load(); n != 1 {
		t.Errorf("ack fired %d times, want 1", n)
	}
}

func TestDestinationNilAck(t *testing.T) {
	qs, dsts := queues(2, 1)
	d, err := multi.NewDestination(dsts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Send(t.Context(), nil, msg("x")); err != nil {
		t.Fatalf("Send with nil ack: %v", err)
	}
	for _, q := range qs {
		_, ack, err := q.Recv(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		ack() // must not panic
	}
}

func TestDestinationCancel(t *testing.T) {
	t.Run("pre-cancelled", func(t *testing.T) {
		qs, dsts := queues(2, 1)
		d, err := multi.NewDestination(dsts...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := d.Send(ctx, nil, msg("x")); !errors.Is(err, context.Canceled) {
			t.Errorf("Send: got %v, want context.Canceled", err)
		}
		for i, q := range qs {
			if n := q.Len(); n != 0 {
				t.Errorf("queue %d: got %d messages, want 0", i, n)
			}
		}
	})
	t.Run("blocked", func(t *testing.T) {
		qs, dsts := queues(2, 1)
		if err := qs[1].Send(t.Context(), nil, msg("full")); err != nil {
			t.Fatal(err)
		}
		d, err := multi.NewDestination(dsts...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		var fired atomic.Int32
		go func() { errc <- d.Send(ctx, func() { fired.Add(1) }, msg("x")) }()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Send: got %v, want context.Canceled", err)
		}
		if n := fired.Load(); n != 0 {
			t.Errorf("ack fired %d times, want 0", n)
		}
	})
}

func TestDestinationConcurrentSend(t *testing.T) {
	const senders, perSender = 4, 100
	qs, dsts := queues(2, 8)
	d, err := multi.NewDestination(dsts...)
	if err != nil {
		t.Fatal(err)
	}
	var drains sync.WaitGroup
	for _, q := range qs {
		drains.Go(func() {
			for range senders * perSender {
				_, ack, err := q.Recv(t.Context())
				if err != nil {
					t.Error(err)
					return
				}
				ack()
			}
		})
	}
	var fired atomic.Int32
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for range perSender {
				if err := d.Send(t.Context(), func() { fired.Add(1) }, msg("x")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	drains.Wait()
	if n := fired.Load(); n != senders*perSender {
		t.Errorf("got %d acks, want %d", n, senders*perSender)
	}
}

// runnerDestination is a Destination whose Run calls run.
type runnerDestination struct {
	sluice.Destination[string]
	run     func(ctx context.Context) error
	started chan struct{}
	stopped atomic.Bool
}

func newRunnerDestination(run func(ctx context.Context) error) *runnerDestination {
	return &runnerDestination{Destination: memory.New[string](1), run: run, started: make(chan struct{})}
}

func (r *runnerDestination) Run(ctx context.Context) error {
	close(r.started)
	defer r.stopped.Store(true)
	return r.run(ctx)
}

func TestDestinationRun(t *testing.T) {
	fail := func(context.Context) error { return errBoom }
	failOnStop := func(ctx context.Context) error {
		<-ctx.Done()
		return fmt.Errorf("flush: %w", errBoom)
	}
	tests := []struct {
		name   string
		runs   []func(context.Context) error // nil: not a Runner
		cancel bool                          // cancel Run's ctx
		want   string                        // Run's error, "" for nil
	}{
		{"no runners", []func(context.Context) error{nil, nil}, false, ""},
		{"cancelled", []func(context.Context) error{untilDone, nil, untilDone}, true, ""},
		{"one fails", []func(context.Context) error{untilDone, fail}, false, "multi: destination 1: run: boom"},
		{"fails while stopping", []func(context.Context) error{untilDone, failOnStop}, true, "multi: destination 1: run: flush: boom"},
		{"first error wins", []func(context.Context) error{failOnStop, fail}, false, "multi: destination 1: run: boom\nmulti: destination 0: run: flush: boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var runners []*runnerDestination
			var dsts []sluice.Destination[string]
			for _, run := range tc.runs {
				if run == nil {
					dsts = append(dsts, memory.New[string](1))
					continue
				}
				r := newRunnerDestination(run)
				runners = append(runners, r)
				dsts = append(dsts, r)
			}
			d, err := multi.NewDestination(dsts...)
			if err != nil {
				t.Fatal(err)
			}
			rn := start(t, t.Context(), d)
			for _, r := range runners {
				<-r.started
			}
			if tc.cancel {
				rn.cancel()
			}
			err = rn.wait(t)
			if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
				t.Errorf("Run: got %v, want %q", err, tc.want)
			}
			if tc.want != "" && !errors.Is(err, errBoom) {
				t.Errorf("Run: errors.Is(%v, errBoom) is false", err)
			}
			for i, r := range runners {
				if !r.stopped.Load() {
					t.Errorf("Run returned before runner %d", i)
				}
			}
			if err := d.Run(t.Context()); !errors.Is(err, sluice.ErrAlreadyRunning) {
				t.Errorf("second Run: got %v, want ErrAlreadyRunning", err)
			}
		})
	}
}

func TestNewDestination(t *testing.T) {
	tests := []struct {
		name    string
		dsts    []sluice.Destination[string]
		wantErr string
	}{
		{"one", []sluice.Destination[string]{memory.New[string](1)}, ""},
		{"none", nil, "multi: new destination: no destinations"},
		{"nil", []sluice.Destination[string]{memory.New[string](1), nil}, "multi: new destination: destination 1 is nil"},
		{"nil pointer", []sluice.Destination[string]{(*memory.Queue[string])(nil)}, "multi: new destination: destination 0 is nil"},
		{"nil func", []sluice.Destination[string]{sluice.DestinationFunc[string](nil)}, "multi: new destination: destination 0 is nil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := multi.NewDestination(tc.dsts...)
			if tc.wantErr == "" {
				if err != nil || d == nil {
					t.Fatalf("got %v, %v; want a Destination", d, err)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr || d != nil {
				t.Errorf("got %v, %v; want nil, %q", d, err, tc.wantErr)
			}
		})
	}
}

// TestNewDestinationCopies checks that changing the caller's slice after
// NewDestination has no effect.
func TestNewDestinationCopies(t *testing.T) {
	qs, dsts := queues(2, 1)
	d, err := multi.NewDestination(dsts...)
	if err != nil {
		t.Fatal(err)
	}
	dsts[1] = nil
	if err := d.Send(t.Context(), nil, msg("x")); err != nil {
		t.Fatal(err)
	}
	if got := []int{qs[0].Len(), qs[1].Len()}; !slices.Equal(got, []int{1, 1}) {
		t.Errorf("queue lengths: got %v, want [1 1]", got)
	}
}
