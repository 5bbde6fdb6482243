package poll_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/poll"
	"github.com/sluicehq/sluice/retry"
)

// recvCanceled calls Recv with a ctx that cancel cancels, and checks that
// it returns context.Canceled within a second of the cancel.
func recvCanceled(t *testing.T, s *poll.Source[string], cancelWhen <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var cancelled time.Time
	go func() {
		<-cancelWhen
		cancelled = time.Now()
		cancel()
	}()
	msg, _, err := s.Recv(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Recv() = %q, %v; want context.Canceled", msg.Value, err)
	}
	if d := time.Since(cancelled); d > time.Second {
		t.Errorf("Recv returned %v after the cancel", d)
	}
}

// pollerFunc returns a Poller that closes polled on its first call, then
// does f.
func pollerFunc(polled chan struct{}, f func(ctx context.Context) ([]sluice.Message[string], func(), error)) poll.PollFunc[string] {
	return func(ctx context.Context, _ int) ([]sluice.Message[string], func(), error) {
		select {
		case <-polled:
		default:
			close(polled)
		}
		return f(ctx)
	}
}

func TestRecvCancel(t *testing.T) {
	hour := poll.Config{Interval: time.Hour, Retry: retry.Policy{Initial: time.Hour}}
	tests := []struct {
		name string
		f    func(ctx context.Context) ([]sluice.Message[string], func(), error)
	}{
		{"waiting after an empty poll", func(context.Context) ([]sluice.Message[string], func(), error) {
			return nil, nil, nil
		}},
		{"backing off after a retryable error", func(context.Context) ([]sluice.Message[string], func(), error) {
			return nil, nil, sluice.Retryable(errBoom)
		}},
		{"in a poll that fails on cancel", func(ctx context.Context) ([]sluice.Message[string], func(), error) {
			<-ctx.Done()
			return nil, nil, errBoom // not wrapping ctx.Err()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			polled := make(chan struct{})
			s, err := poll.New(hour, pollerFunc(polled, tc.f))
			if err != nil {
				t.Fatal(err)
			}
			recvCanceled(t, s, polled)
		})
	}
}

func TestRecvCancelKeepsBuffered(t *testing.T) {
	p := newScripted(t, batch("a", "b"))
	s, err := poll.New[string](fast, p)
	if err != nil {
		t.Fatal(err)
	}
	if msg, _, err := s.Recv(t.Context()); err != nil || msg.Value != "a" {
		t.Fatalf("Recv() = %q, %v; want a, nil", msg.Value, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := s.Recv(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Recv(cancelled ctx): %v, want context.Canceled", err)
	}
	if msg, _, err := s.Recv(t.Context()); err != nil || msg.Value != "b" {
		t.Errorf("Recv() = %q, %v; want b, nil", msg.Value, err)
	}
}

// TestRecvCancelDuringPoll cancels a Recv whose Poll returns a batch
// anyway: the batch is kept for the next Recv, not polled again.
func TestRecvCancelDuringPoll(t *testing.T) {
	polls := 0
	polled := make(chan struct{})
	s, err := poll.New(fast, pollerFunc(polled, func(ctx context.Context) ([]sluice.Message[string], func(), error) {
		if polls++; polls > 1 {
			return nil, nil, io.EOF
		}
		<-ctx.Done()
		return []sluice.Message[string]{{Value: "a"}}, nil, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	recvCanceled(t, s, polled)
	if msg, _, err := s.Recv(t.Context()); err != nil || msg.Value != "a" {
		t.Errorf("Recv() = %q, %v; want a, nil", msg.Value, err)
	}
	if polls != 1 {
		t.Errorf("%d polls, want 1", polls)
	}
}

// TestRecvCancelWaitingForTurn cancels a Recv that waits while another
// one polls; the other one's batch is not lost.
func TestRecvCancelWaitingForTurn(t *testing.T) {
	polled, release := make(chan struct{}), make(chan struct{})
	s, err := poll.New(fast, pollerFunc(polled, func(context.Context) ([]sluice.Message[string], func(), error) {
		<-release
		return []sluice.Message[string]{{Value: "a"}, {Value: "b"}}, nil, io.EOF
	}))
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan string)
	go func() {
		msg, _, err := s.Recv(t.Context())
		if err != nil {
			t.Error(err)
		}
		first <- msg.Value
	}()
	<-polled // the other Recv has the turn
	now := make(chan struct{})
	close(now)
	recvCanceled(t, s, now)
	close(release)
	if v := <-first; v != "a" {
		t.Errorf("the polling Recv got %q, want a", v)
	}
	if msg, _, err := s.Recv(t.Context()); err != nil || msg.Value != "b" {
		t.Errorf("Recv() = %q, %v; want b, nil", msg.Value, err)
	}
}
