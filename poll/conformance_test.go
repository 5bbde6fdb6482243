package poll_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/memory"
	"github.com/sluicehq/sluice/poll"
	"github.com/sluicehq/sluice/sluicetest"
)

// TestConformance runs the suite on a Source that polls a memory.Queue,
// with the queue as the Destination. The queue keeps nothing across a
// restart, so the pair is not Durable.
func TestConformance(t *testing.T) {
	sluicetest.Run(t, sluicetest.Features{Ordered: true, ConcurrentRecv: true, ConcurrentSend: true, Binary: true},
		func(t *testing.T, name string) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
			q := memory.New[[]byte](0)
			t.Cleanup(q.Close)
			s, err := poll.New(poll.Config{Interval: time.Millisecond}, drain(q))
			if err != nil {
				t.Fatal(err)
			}
			return s, q
		})
}

// drain is a Poller that takes what q holds, up to max, without waiting;
// its batch ack acks every message it took. It must be q's only reader:
// it relies on q.Len to know that Recv will not block.
func drain[T any](q *memory.Queue[T]) poll.PollFunc[T] {
	return func(ctx context.Context, max int) ([]sluice.Message[T], func(), error) {
		var (
			msgs []sluice.Message[T]
			acks []func()
		)
		for len(msgs) < max && q.Len() > 0 {
			m, ack, err := q.Recv(ctx)
			if err != nil {
				break // ctx is done: return what was taken, the Source keeps it
			}
			msgs = append(msgs, m)
			acks = append(acks, ack)
		}
		return msgs, func() {
			for _, ack := range acks {
				ack()
			}
		}, nil
	}
}
