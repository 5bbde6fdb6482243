package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/retry"
)

// FastRetry retries within milliseconds, so that tests of retries are
// quick.
var FastRetry = retry.Policy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}

// Run runs d until the test ends and returns a channel that gets Run's
// error, then is closed. When the test ends Run's ctx is cancelled; the
// test fails if Run does not return within 10 s, or returns an error the
// test did not take from the channel.
func Run(t testing.TB, d sluice.Runner) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})
	return done
}

// DeadLetter is a destination that keeps what it is sent and acks it at
// once. Safe for concurrent use.
type DeadLetter struct {
	mu   sync.Mutex
	msgs []sluice.Message[event.Event]
}

// Send keeps msgs and acks them.
func (d *DeadLetter) Send(_ context.Context, ack func(), msgs ...sluice.Message[event.Event]) error {
	d.mu.Lock()
	d.msgs = append(d.msgs, msgs...)
	d.mu.Unlock()
	sluice.Ack(ack)
	return nil
}

// Got returns a copy of what was sent so far, in order.
func (d *DeadLetter) Got() []sluice.Message[event.Event] {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.msgs)
}

// WaitFor polls cond every 10 ms until it holds; the test fails if it
// does not within 60 s. A loaded CI machine gives a test process a few
// percent of a CPU: loki's TestPushSplit needs about 1 s of CPU under
// -race and took 25 s at load 28.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
