package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

type downConfig struct{}

// TestStopBeforeDestinationStarts stops the daemon while a destination is
// still starting (its endpoint down, as an S3 bucket check retrying), with
// events in it. Without a disk buffer they are lost to a source that
// cannot replay: Run must say how many, at Error, and return
// ErrUndelivered (sluiced exits 3), never nil as after a clean drain.
// Behind a disk buffer (the destination's or the route's), the events
// are in the spool, acked by it, and the stop is clean.
func TestStopBeforeDestinationStarts(t *testing.T) {
	const events = 10
	for _, tc := range []struct {
		name       string
		buffer     string // on the destination
		routeBuf   string // on the route
		wantErr    bool
		wantAcked  int
		wantLogged string
	}{
		{name: "no buffer", wantErr: true,
			wantLogged: `level=ERROR msg="batch: stopped before it could start; the messages held are not delivered, not acked" destination=down messages=10`},
		{name: "destination buffer", buffer: `"buffer": {"type": "disk"},`, wantAcked: events,
			wantLogged: `level=WARN msg="buffer: the destination stopped with events not delivered; they stay in the spool for the next start"`},
		{name: "route buffer", routeBuf: `"buffer": {"type": "disk"},`, wantAcked: events,
			wantLogged: `level=WARN msg="destination down: stopped with events not delivered; they stay in the route's disk buffer for the next start"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acked := &ackLog{}
			r := testRegistry(acked)
			var mu sync.Mutex
			held := 0
			daemon.RegisterDestination(r, "down", "never starts", func() *downConfig { return &downConfig{} },
				func(env daemon.Env, _ *downConfig) (sluice.Destination[event.Event], error) {
					d, err := batch.New(batch.Config{Count: 1000, Age: time.Hour},
						batch.FlushFunc[event.Event](func(context.Context, []sluice.Message[event.Event]) error {
							t.Error("flushed before its start succeeded")
							return nil
						}), batch.WithLogger[event.Event](env.Logger))
					if err != nil {
						return nil, err
					}
					return startingDest{d, func(n int) { mu.Lock(); held += n; mu.Unlock() }}, nil
				})
			cfg := fmt.Sprintf(`{
				"dataDir": %q, "shutdownTimeout": "2s",
				"sources": {"g": {"type": "gen", "count": %d, "block": true}},
				"destinations": {"down": {"type": "down", %s}},
				"routes": [{"from": ["g"], "to": ["down"], %s}],
			}`, t.TempDir(), events, tc.buffer, tc.routeBuf)
			var logs syncBuf
			dm, err := daemon.New([]byte(cfg), r, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- dm.Run(ctx) }()
			deadline := time.Now().Add(10 * time.Second)
			for {
				mu.Lock()
				n := held
				mu.Unlock()
				if n >= events {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the destination got %d events, want %d", n, events)
				}
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			err = <-done
			switch {
			case tc.wantErr && (!errors.Is(err, sluice.ErrUndelivered) || !strings.Contains(err.Error(), fmt.Sprintf("%d messages not delivered", events))):
				t.Errorf("Run = %v, want ErrUndelivered counting %d events", err, events)
			case !tc.wantErr && err != nil:
				t.Errorf("Run = %v, want nil: the spool keeps the events", err)
			}
			acked.mu.Lock()
			if acked.n != tc.wantAcked {
				t.Errorf("%d events acked to the source, want %d", acked.n, tc.wantAcked)
			}
			acked.mu.Unlock()
			if !strings.Contains(logs.String(), tc.wantLogged) {
				t.Errorf("logs lack %s:\n%s", tc.wantLogged, logs.String())
			}
			if tc.wantErr && !strings.Contains(logs.String(), `level=ERROR msg="stopped with events not delivered`) {
				t.Errorf("the last line does not say the drain was incomplete:\n%s", logs.String())
			}
			if tc.wantErr && strings.Contains(logs.String(), `level=INFO msg=stopped`) {
				t.Errorf("logged a clean stop:\n%s", logs.String())
			}
		})
	}
}

// startingDest is a batching destination whose start never succeeds: it
// waits for its ctx, as a check of an endpoint that is down retries.
type startingDest struct {
	*batch.Destination[event.Event]
	got func(n int)
}

func (d startingDest) Send(ctx context.Context, ack func(), msgs ...sluice.Message[event.Event]) error {
	err := d.Destination.Send(ctx, ack, msgs...)
	if err == nil {
		d.got(len(msgs))
	}
	return err
}

func (d startingDest) Run(ctx context.Context) error {
	return d.RunAfter(ctx, func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
