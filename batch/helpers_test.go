package batch_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
)

// waitLimit bounds every wait in these tests. Inside a synctest bubble it
// is fake time, and only passes when everything else is blocked.
const waitLimit = time.Minute

// recorder is a Flusher that keeps a copy of every batch it flushed. If
// before is set, it is called first, and an error from it fails the flush.
type recorder struct {
	before func(ctx context.Context, msgs []sluice.Message[[]byte]) error

	mu      sync.Mutex
	batches [][]sluice.Message[[]byte]
	flushed map[string]int // by Key
	sizes   chan int       // batch sizes, in flush order
}

func newRecorder() *recorder {
	return &recorder{flushed: map[string]int{}, sizes: make(chan int, 10000)}
}

func (r *recorder) Flush(ctx context.Context, msgs []sluice.Message[[]byte]) error {
	if r.before != nil {
		if err := r.before(ctx, msgs); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.batches = append(r.batches, slices.Clone(msgs))
	for _, m := range msgs {
		r.flushed[m.Key]++
	}
	r.mu.Unlock()
	r.sizes <- len(msgs)
	return nil
}

// sizeList returns the sizes of the batches flushed so far.
func (r *recorder) sizeList() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []int
	for _, b := range r.batches {
		s = append(s, len(b))
	}
	return s
}

func (r *recorder) wasFlushed(keys ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range keys {
		if r.flushed[k] == 0 {
			return false
		}
	}
	return true
}

// msgs returns messages whose Keys are prefix-0, prefix-1, … and whose
// Values have the given lengths.
func msgs(prefix string, sizes ...int) []sluice.Message[[]byte] {
	out := make([]sluice.Message[[]byte], len(sizes))
	for i, n := range sizes {
		out[i] = sluice.Message[[]byte]{Key: fmt.Sprintf("%s-%d", prefix, i), Value: make([]byte, n)}
	}
	return out
}

// ones returns n messages of one byte.
func ones(prefix string, n int) []sluice.Message[[]byte] {
	return msgs(prefix, slices.Repeat([]int{1}, n)...)
}

func keys(ms []sluice.Message[[]byte]) []string {
	k := make([]string, len(ms))
	for i, m := range ms {
		k[i] = m.Key
	}
	return k
}

// counter is an ack that counts its calls.
type counter struct {
	mu sync.Mutex
	n  int
	ch chan struct{} // gets one value per call
}

func newCounter() *counter { return &counter{ch: make(chan struct{}, 100)} }

func (c *counter) ack() {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	c.ch <- struct{}{}
}

func (c *counter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// running is a Destination whose Run runs in a goroutine.
type running struct {
	cancel context.CancelFunc
	errc   chan error
	once   sync.Once
	err    error
}

// start runs d.Run until the test ends or stop is called. ctx's values
// reach Run.
func start[T any](t *testing.T, ctx context.Context, d *batch.Destination[T]) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	r := &running{cancel: cancel, errc: make(chan error, 1)}
	go func() { r.errc <- d.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run's ctx and returns Run's error.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	return r.wait(t)
}

// wait returns Run's error, waiting for Run to return by itself.
func (r *running) wait(t *testing.T) error {
	t.Helper()
	r.once.Do(func() {
		select {
		case r.err = <-r.errc:
		case <-time.After(waitLimit):
			t.Fatal("Run did not return")
		}
	})
	return r.err
}

// recv returns the next value from ch, or fails the test.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatal("timed out waiting")
		panic("unreachable")
	}
}

func mustNew[T any](t *testing.T, c batch.Config, f batch.Flusher[T], opts ...batch.Option[T]) *batch.Destination[T] {
	t.Helper()
	d, err := batch.New(c, f, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d
}

// logs is a slog.Handler that keeps every record.
type logs struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logs) WithGroup(string) slog.Handler            { return l }
func (l *logs) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}

// find returns the attributes of the records at level with message msg.
func (l *logs) find(level slog.Level, msg string) []map[string]slog.Value {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]slog.Value
	for _, r := range l.recs {
		if r.Level != level || r.Message != msg {
			continue
		}
		attrs := map[string]slog.Value{}
		r.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value
			return true
		})
		out = append(out, attrs)
	}
	return out
}
