package multi_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/memory"
	"github.com/sluicehq/sluice/multi"
	"github.com/sluicehq/sluice/sluicetest"
)

// The pairs are not durable: the queues live in the pair, and a restart
// opens new, empty ones.

// TestConformanceSource runs the suite on fan-in: a Source over two
// queues, fed by a Destination that sends each Send to the next queue in
// turn. Order is lost between the queues.
func TestConformanceSource(t *testing.T) {
	sluicetest.Run(t, sluicetest.Features{ConcurrentRecv: true, ConcurrentSend: true, Binary: true},
		func(t *testing.T, name string) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
			qs := []*memory.Queue[[]byte]{memory.New[[]byte](0), memory.New[[]byte](0)}
			src, err := multi.NewSource[[]byte](qs[0], qs[1])
			if err != nil {
				t.Fatal(err)
			}
			var next atomic.Uint64
			dst := sluice.DestinationFunc[[]byte](func(ctx context.Context, ack func(), msgs ...sluice.Message[[]byte]) error {
				// A queue hands the ack of a message sent alone to its
				// receiver as it is; AckOnce keeps a receiver that acks
				// twice from calling the suite's ack twice.
				if ack != nil {
					ack = sluice.AckOnce(ack)
				}
				return qs[next.Add(1)%2].Send(ctx, ack, msgs...)
			})
			return src, dst
		})
}

// TestConformanceDestination runs the suite on fan-out to one queue, which
// is the Source.
func TestConformanceDestination(t *testing.T) {
	sluicetest.Run(t, sluicetest.Features{Ordered: true, ConcurrentRecv: true, ConcurrentSend: true, Binary: true},
		func(t *testing.T, name string) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
			q := memory.New[[]byte](0)
			dst, err := multi.NewDestination[[]byte](q)
			if err != nil {
				t.Fatal(err)
			}
			return q, dst
		})
}

// TestConformanceDestinationTwo runs the suite on fan-out to two queues:
// the first is the Source, and a goroutine receives and acks everything
// from the second, so each Send's ack waits for both.
func TestConformanceDestinationTwo(t *testing.T) {
	sluicetest.Run(t, sluicetest.Features{Ordered: true, ConcurrentRecv: true, ConcurrentSend: true, Binary: true},
		func(t *testing.T, name string) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
			q, other := memory.New[[]byte](0), memory.New[[]byte](0)
			dst, err := multi.NewDestination[[]byte](q, other)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() {
				for {
					_, ack, err := other.Recv(ctx)
					if err != nil {
						return
					}
					ack()
				}
			})
			t.Cleanup(func() {
				cancel()
				wg.Wait()
			})
			return q, dst
		})
}
