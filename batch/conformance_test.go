package batch_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/memory"
	"github.com/sluicehq/sluice/sluicetest"
)

// TestConformance runs the sluicetest suite on a batch Destination whose
// Flusher sends each batch into a memory.Queue, with that queue as the
// Source. The suite runs the Destination's Run. StopTimeout is kept below
// the suite's Timeout: after send-cancel the queue is full and the last
// flushes can only give up.
func TestConformance(t *testing.T) {
	tests := []struct {
		name    string
		cfg     batch.Config
		ordered bool
	}{
		// One flush at a time, in the order cut: one sender's messages
		// arrive in order.
		{"one flush at a time", batch.Config{Count: 10, Age: 10 * time.Millisecond, Parallelism: 1, StopTimeout: 500 * time.Millisecond}, true},
		{"parallel flushes, bytes limit", batch.Config{Count: 7, Bytes: 600, Age: 10 * time.Millisecond, Parallelism: 4, StopTimeout: 500 * time.Millisecond}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := sluicetest.Features{Ordered: tc.ordered, ConcurrentRecv: true, ConcurrentSend: true, Binary: true}
			sluicetest.Run(t, f, func(t *testing.T, name string) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
				q := memory.New[[]byte](0)
				t.Cleanup(q.Close)
				flush := batch.FlushFunc[[]byte](func(ctx context.Context, msgs []sluice.Message[[]byte]) error {
					return q.Send(ctx, sluice.Noop, msgs...)
				})
				d, err := batch.New(tc.cfg, batch.Flusher[[]byte](flush))
				if err != nil {
					t.Fatal(err)
				}
				return q, d
			})
		})
	}
}
