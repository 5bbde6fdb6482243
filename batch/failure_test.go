package batch_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/retry"
)

// deadLetter is a Destination that holds what it is sent, and the ack, so
// a test decides when it acks.
type deadLetter struct {
	err  error // returned by Send, if set
	msgs chan []sluice.Message[[]byte]
	acks chan func()
}

func newDeadLetter(err error) *deadLetter {
	return &deadLetter{err: err, msgs: make(chan []sluice.Message[[]byte], 10), acks: make(chan func(), 10)}
}

func (d *deadLetter) Send(_ context.Context, ack func(), msgs ...sluice.Message[[]byte]) error {
	if d.err != nil {
		return d.err
	}
	d.msgs <- append([]sluice.Message[[]byte](nil), msgs...)
	d.acks <- ack
	return nil
}

// TestPermanentError checks what happens to a batch whose flush fails for
// good: it goes to the dead letter, or Run fails, and it is never acked
// unless the dead letter acks it.
func TestPermanentError(t *testing.T) {
	bad := errors.New("bad request")
	busy := sluice.Retryable(errors.New("busy"))
	dlDown := errors.New("dead letter down")
	tests := []struct {
		name          string
		flushErr      error
		policy        retry.Policy
		deadLetter    bool
		deadLetterErr error
		wantCalls     int
		wantRunErr    []error // Run's error wraps each; nil: Run returns nil
		wantRunText   string  // Run's error starts with this
		wantAttrErr   string  // dead-lettered messages' "error" attribute
		wantAttempts  string  // and "batch.attempts"
	}{
		{
			name: "permanent, no dead letter", flushErr: bad, wantCalls: 1,
			wantRunErr: []error{bad}, wantRunText: "batch: flush: bad request",
		},
		{
			name: "retries exhausted, no dead letter", flushErr: busy, policy: retry.Policy{MaxAttempts: 3}, wantCalls: 3,
			wantRunErr: []error{busy}, wantRunText: "batch: flush: retry: gave up after 3 attempts: busy",
		},
		{
			name: "permanent, dead letter", flushErr: bad, deadLetter: true, wantCalls: 1,
			wantAttrErr: "bad request", wantAttempts: "1",
		},
		{
			name: "retries exhausted, dead letter", flushErr: busy, policy: retry.Policy{MaxAttempts: 3},
			deadLetter: true, wantCalls: 3,
			wantAttrErr: "retry: gave up after 3 attempts: busy", wantAttempts: "3",
		},
		{
			name: "dead letter fails", flushErr: bad, deadLetter: true, deadLetterErr: dlDown, wantCalls: 1,
			wantRunErr: []error{dlDown}, wantRunText: "batch: dead letter: dead letter down",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				calls := 0
				rec := newRecorder()
				rec.before = func(context.Context, []sluice.Message[[]byte]) error {
					calls++
					return tc.flushErr
				}
				log := &logs{}
				opts := []batch.Option[[]byte]{batch.WithLogger[[]byte](slog.New(log))}
				dl := newDeadLetter(tc.deadLetterErr) // its channels belong to the bubble
				if tc.deadLetter {
					opts = append(opts, batch.WithDeadLetter[[]byte](dl))
				}
				d := mustNew(t, batch.Config{Count: 2, Parallelism: 1, Retry: tc.policy}, batch.Flusher[[]byte](rec), opts...)
				r := start(t, t.Context(), d)
				ack := newCounter()
				in := []sluice.Message[[]byte]{
					{Key: "a", Attributes: sluice.AttributesOf(sluice.Attr{Key: "source", Value: "test"})},
					{Key: "b"},
				}
				if err := d.Send(t.Context(), ack.ack, in...); err != nil {
					t.Fatal(err)
				}

				if tc.wantRunErr != nil {
					err := r.wait(t) // Run stops by itself
					for _, want := range tc.wantRunErr {
						if !errors.Is(err, want) {
							t.Errorf("Run: got %v, want it to wrap %v", err, want)
						}
					}
					if err == nil || !strings.HasPrefix(err.Error(), tc.wantRunText) {
						t.Errorf("Run: got %q, want %q", err, tc.wantRunText)
					}
					if len(log.find(slog.LevelError, "batch: stopped")) != 1 {
						t.Errorf("fatal error not logged at Error")
					}
					err = d.Send(t.Context(), ack.ack, in...)
					if !errors.Is(err, sluice.ErrClosed) || !errors.Is(err, tc.wantRunErr[0]) {
						t.Errorf("Send after failure: got %v, want ErrClosed and the cause", err)
					}
				} else {
					got := recv(t, dl.msgs)
					if len(got) != 2 || got[0].Key != "a" || got[1].Key != "b" {
						t.Fatalf("dead letter got %v", got)
					}
					for _, m := range got {
						if v := m.Attributes.Value("error"); v != tc.wantAttrErr {
							t.Errorf("%s: error attribute %q, want %q", m.Key, v, tc.wantAttrErr)
						}
						if v := m.Attributes.Value("batch.attempts"); v != tc.wantAttempts {
							t.Errorf("%s: batch.attempts %q, want %q", m.Key, v, tc.wantAttempts)
						}
					}
					if v := got[0].Attributes.Value("source"); v != "test" {
						t.Errorf("attribute source = %q, want it kept", v)
					}
					dlAck := recv(t, dl.acks)
					synctest.Wait()
					if ack.count() != 0 {
						t.Fatal("acked before the dead letter acked")
					}
					dlAck()
					dlAck() // a second call has no effect
					if ack.count() != 1 {
						t.Errorf("%d acks after the dead letter acked, want 1", ack.count())
					}
					if err := r.stop(t); err != nil {
						t.Errorf("Run: got %v, want nil", err)
					}
				}
				if calls != tc.wantCalls {
					t.Errorf("%d flush calls, want %d", calls, tc.wantCalls)
				}
				if tc.wantRunErr != nil && ack.count() != 0 {
					t.Errorf("acked %d times, want never", ack.count())
				}
			})
		})
	}
}

// TestSendDuringFailure checks that every Send refused because a flush
// failed for good says why, even one made while Run is still stopping:
// callers report the first error they see, and "closed" alone hides the
// cause.
func TestSendDuringFailure(t *testing.T) {
	bad := errors.New("bad request")
	for range 300 {
		rec := newRecorder()
		rec.before = func(context.Context, []sluice.Message[[]byte]) error { return bad }
		d := mustNew(t, batch.Config{Count: 1, Parallelism: 1}, batch.Flusher[[]byte](rec),
			batch.WithLogger[[]byte](slog.New(&logs{})))
		r := start(t, t.Context(), d)
		var err error
		for err == nil {
			err = d.Send(t.Context(), func() {}, sluice.Message[[]byte]{Key: "k"})
		}
		if !errors.Is(err, sluice.ErrClosed) || !errors.Is(err, bad) {
			t.Fatalf("Send: got %v, want ErrClosed and the cause", err)
		}
		if err := r.wait(t); !errors.Is(err, bad) {
			t.Fatalf("Run: got %v, want the cause", err)
		}
	}
}

// TestSendAfterStopWithCause checks that a Send refused because Run's ctx
// was cancelled with a cause (a destination that runs the batch under a
// ctx it cancels when its connection is refused) says that cause; a ctx
// cancelled without one gives ErrClosed alone, as a stop.
func TestSendAfterStopWithCause(t *testing.T) {
	refused := errors.New("connection refused for good")
	for _, tc := range []struct {
		name  string
		cause error
	}{
		{"with a cause", refused},
		{"without", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := mustNew(t, batch.Config{Count: 1}, batch.Flusher[[]byte](newRecorder()))
			ctx, cancel := context.WithCancelCause(t.Context())
			errc := make(chan error, 1)
			go func() { errc <- d.Run(ctx) }()
			cancel(tc.cause)
			if err := <-errc; err != nil {
				t.Fatalf("Run: %v", err)
			}
			err := d.Send(t.Context(), func() {}, sluice.Message[[]byte]{Key: "k"})
			if !errors.Is(err, sluice.ErrClosed) {
				t.Fatalf("Send: got %v, want ErrClosed", err)
			}
			if tc.cause != nil && !errors.Is(err, tc.cause) {
				t.Errorf("Send: got %v, want the cause, %v", err, tc.cause)
			}
			if tc.cause == nil && err.Error() != "batch: send: closed" {
				t.Errorf("Send: got %q, want %q", err, "batch: send: closed")
			}
		})
	}
}
