package multi_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

var errBoom = errors.New("boom")

// waitTimeout bounds how long a test waits for something that should
// happen at once; reaching it is a failure, never a way to synchronise.
const waitTimeout = 5 * time.Second

// running is a Runner started in a goroutine by start.
type running struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// start runs r.Run with a child of ctx until the test ends or stop is
// called, and waits for it to return at cleanup.
func start(t *testing.T, ctx context.Context, r sluice.Runner) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	rn := &running{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(rn.done)
		rn.err = r.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-rn.done
	})
	return rn
}

// wait waits for Run to return and returns its error.
func (rn *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-rn.done:
		return rn.err
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return")
		return nil
	}
}

// stop cancels Run and returns its error.
func (rn *running) stop(t *testing.T) error {
	t.Helper()
	rn.cancel()
	return rn.wait(t)
}

// ackLog records which acks were called.
type ackLog struct {
	mu  sync.Mutex
	got map[string]int // value → number of calls
}

func newAckLog() *ackLog { return &ackLog{got: make(map[string]int)} }

// ack returns an ack function that records v.
func (l *ackLog) ack(v string) func() {
	return func() {
		l.mu.Lock()
		l.got[v]++
		l.mu.Unlock()
	}
}

func (l *ackLog) count(v string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.got[v]
}

func (l *ackLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.got)
}

// runnerSource is a Source whose Run calls run; it records when Run started
// and whether it returned.
type runnerSource struct {
	sluice.Source[string]
	run     func(ctx context.Context) error
	started chan struct{}
	mu      sync.Mutex
	stopped bool
}

func newRunnerSource(src sluice.Source[string], run func(ctx context.Context) error) *runnerSource {
	return &runnerSource{Source: src, run: run, started: make(chan struct{})}
}

func (r *runnerSource) Run(ctx context.Context) error {
	close(r.started)
	err := r.run(ctx)
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	return err
}

func (r *runnerSource) hasStopped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopped
}

// untilDone is a Run that blocks until ctx is done and returns nil.
func untilDone(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// blockingSource is a Source whose Recv blocks until ctx is done.
func blockingSource() sluice.Source[string] {
	return sluice.SourceFunc[string](func(ctx context.Context) (sluice.Message[string], func(), error) {
		<-ctx.Done()
		return sluice.Message[string]{}, nil, ctx.Err()
	})
}

func msg(v string) sluice.Message[string] { return sluice.Message[string]{Value: v} }
