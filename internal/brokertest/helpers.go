package brokertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// Run runs r until the test ends; stop cancels it and returns its
// error, failing the test if Run does not return within 10s of the
// cancel.
func Run(t testing.TB, r sluice.Runner) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var err error
	stopped := false
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return within 10s of cancel")
			}
		}
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// Recv receives n messages from s, each within 10s, acking each if ack
// is set; it returns their Raw and their acks.
func Recv(t testing.TB, s sluice.Source[event.Event], n int, ack bool) ([]string, []func()) {
	t.Helper()
	return RecvWithin(t, s, n, ack, 10*time.Second)
}

// RecvWithin is Recv with d, not 10s, as the wait for each message.
func RecvWithin(t testing.TB, s sluice.Source[event.Event], n int, ack bool, d time.Duration) ([]string, []func()) {
	t.Helper()
	var got []string
	var acks []func()
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		m, a, err := s.Recv(ctx)
		cancel()
		if err != nil {
			t.Fatalf("recv after %d of %d: %v", len(got), n, err)
		}
		got = append(got, string(m.Value.Raw))
		acks = append(acks, a)
		if ack {
			a()
		}
	}
	return got, acks
}

// Nothing checks that s hands out no message within d.
func Nothing(t testing.TB, s sluice.Source[event.Event], d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if m, _, err := s.Recv(ctx); err == nil {
		t.Fatalf("got %q, want nothing", m.Value.Raw)
	}
}

// WaitReady waits up to 20s until r.NotReady() is "".
func WaitReady(t testing.TB, r interface{ NotReady() string }) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // generous: CI machines may be loaded
	for r.NotReady() != "" {
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 60s: %s", r.NotReady())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Lines returns n distinct lines: prefix and a six-digit number.
func Lines(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%06d", prefix, i)
	}
	return out
}

// Events returns one message a line, the line as its Raw.
func Events(lines ...string) []sluice.Message[event.Event] {
	msgs := make([]sluice.Message[event.Event], len(lines))
	for i, l := range lines {
		msgs[i].Value.Raw = []byte(l)
	}
	return msgs
}

// StopBeforeConnected creates the moment a stopping Run holds an event
// it has not yet connected to publish: it runs d against a server that is
// down, sends line, cancels Run, and only then calls start to bring the
// server up. Run must go on connecting while it flushes what it holds
// (its stopTimeout, which the caller sets to a minute), publish and ack
// the event, and return nil; without a connection it would wait out its
// stopTimeout and ack nothing.
func StopBeforeConnected(t testing.TB, d interface {
	sluice.Destination[event.Event]
	sluice.Runner
}, line string, start func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	acked := make(chan struct{})
	if err := d.Send(context.Background(), sync.OnceFunc(func() { close(acked) }), Events(line)...); err != nil {
		t.Fatal(err)
	}
	cancel()
	start()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(50 * time.Second):
		t.Fatal("Run did not return within 50s of the server coming up")
	}
	select {
	case <-acked:
	default:
		t.Fatal("Run returned without publishing the event it held when stopped")
	}
}
