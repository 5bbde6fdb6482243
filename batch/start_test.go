package batch_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
)

// TestRunAfter checks what RunAfter does with the messages sent while its
// start function runs: flushed once start succeeds; neither flushed nor
// acked, but counted, logged and reported, when start fails or the
// Destination is stopped before start returned (an endpoint down at start,
// then SIGTERM).
func TestRunAfter(t *testing.T) {
	errDown := errors.New("bucket does not exist")
	tests := []struct {
		name     string
		send     int
		start    func(ctx context.Context) error // started, stopped: see stopAt
		stop     bool                            // cancel Run's ctx while start runs
		wantErr  error                           // errors.Is; nil: want nil
		wantText string                          // in the error
		wantLog  string                          // Error record with messages=send
		wantAck  bool
	}{
		{
			name: "stopped while start retries", send: 7, stop: true,
			start:   func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
			wantErr: sluice.ErrUndelivered, wantText: "7 messages not delivered",
			wantLog: "batch: stopped before it could start; the messages held are not delivered, not acked",
		},
		{
			name: "stopped while start retries, holding nothing", stop: true,
			start: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
		},
		{
			name: "start succeeds after the stop", send: 3, stop: true,
			start:   func(ctx context.Context) error { time.Sleep(time.Second); return nil },
			wantAck: true, // flushed as Run flushes at a stop
		},
		{
			name: "start fails", send: 5,
			start:   func(ctx context.Context) error { time.Sleep(time.Second); return errDown },
			wantErr: errDown, wantText: "5 messages not delivered",
			wantLog: "batch: start failed; the messages held are not delivered, not acked",
		},
		{
			name:    "start fails, holding nothing",
			start:   func(ctx context.Context) error { return errDown },
			wantErr: errDown,
		},
		{
			name: "start succeeds", send: 4,
			start:   func(ctx context.Context) error { time.Sleep(time.Second); return nil },
			wantAck: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := newRecorder()
				log := &logs{}
				d := mustNew(t, batch.Config{Count: 2, Age: time.Hour, Parallelism: 1},
					batch.Flusher[[]byte](rec), batch.WithLogger[[]byte](slog.New(log)))
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				errc := make(chan error, 1)
				go func() { errc <- d.RunAfter(ctx, tc.start) }()
				ack := newCounter()
				// With Count 2 and Parallelism 1, a Send of more than 3
				// messages fills the buffer; later Sends wait for room.
				if tc.send > 0 {
					if err := d.Send(t.Context(), ack.ack, ones("m", tc.send)...); err != nil {
						t.Fatal(err)
					}
				}
				blocked := make(chan error, 1)
				if tc.send > 3 {
					go func() { blocked <- d.Send(t.Context(), ack.ack, ones("late", 4)...) }()
				}
				synctest.Wait()
				if tc.stop {
					cancel()
				}
				if tc.wantAck {
					time.Sleep(2 * time.Second) // start succeeds; the batches flush
					synctest.Wait()
					if got := ack.count(); got == 0 {
						t.Errorf("not acked after a successful start")
					}
					cancel()
				}
				err := <-errc
				switch {
				case tc.wantErr == nil && err != nil:
					t.Errorf("RunAfter: %v, want nil", err)
				case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
					t.Errorf("RunAfter: %v, want %v", err, tc.wantErr)
				case tc.wantErr == errDown && errors.Is(err, sluice.ErrUndelivered):
					t.Errorf("RunAfter: %v: a failed start is a failure, not ErrUndelivered", err)
				}
				if !strings.Contains(fmt.Sprint(err), tc.wantText) {
					t.Errorf("RunAfter: %v, want it to say %q", err, tc.wantText)
				}
				synctest.Wait()
				if !tc.wantAck {
					if got := ack.count(); got != 0 {
						t.Errorf("acked %d times, want none", got)
					}
					if n := len(rec.sizeList()); n != 0 {
						t.Errorf("flushed %d batches, want none", n)
					}
				}
				if tc.wantLog != "" {
					recs := log.find(slog.LevelError, tc.wantLog)
					if len(recs) != 1 || recs[0]["messages"].Int64() != int64(tc.send) {
						t.Errorf("logged %v at Error, want one record %q with messages=%d", recs, tc.wantLog, tc.send)
					}
				}
				if tc.send > 3 && !tc.wantAck {
					if err := <-blocked; !errors.Is(err, sluice.ErrClosed) {
						t.Errorf("Send waiting for room: got %v, want ErrClosed", err)
					}
				}
				if !tc.wantAck {
					if err := d.Send(t.Context(), nil, ones("after", 1)...); !errors.Is(err, sluice.ErrClosed) {
						t.Errorf("Send after RunAfter returned: got %v, want ErrClosed", err)
					}
				}
				if err := d.Run(t.Context()); !errors.Is(err, sluice.ErrAlreadyRunning) {
					t.Errorf("Run after RunAfter: got %v, want ErrAlreadyRunning", err)
				}
			})
		})
	}
}
