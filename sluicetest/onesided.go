package sluicetest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
)

// The one-sided suites complete a connector's one side with the suite's
// own: a Destination that calls the Source's Write, or a Source that reads
// the Destination's Storage back.

// sourcePair pairs each Source with a Destination that stores with write.
func sourcePair[T any](newSource func(tb, string) sluice.Source[T],
	write func(ctx context.Context, name string, msgs ...sluice.Message[T]) error) func(tb, string) (sluice.Source[T], sluice.Destination[T]) {
	return func(t tb, name string) (sluice.Source[T], sluice.Destination[T]) {
		dst := sluice.DestinationFunc[T](func(ctx context.Context, ack func(), msgs ...sluice.Message[T]) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if len(msgs) > 0 {
				if err := write(ctx, name, msgs...); err != nil {
					return fmt.Errorf("SourceSuite.Write: %w", err)
				}
			}
			sluice.Ack(ack)
			return nil
		})
		return newSource(t, name), dst
	}
}

// destinationPair pairs each Destination with a readback source over read.
func destinationPair[T any](newDestination func(tb, string) sluice.Destination[T],
	read func(string) ([]sluice.Message[T], error), unwrap func(sluice.Message[T]) []byte) func(tb, string) (sluice.Source[T], sluice.Destination[T]) {
	return func(t tb, name string) (sluice.Source[T], sluice.Destination[T]) {
		_, unwrap := codec(nil, unwrap)
		return &readback[T]{name: name, read: read, unwrap: unwrap, taken: make(map[string]int)}, newDestination(t, name)
	}
}

// readback is a Source that polls Storage.Read and hands out each message
// stored that it has not handed out yet, in the order Read returns them.
// Its acks do nothing: what a destination stored stays stored. Recv is
// safe for concurrent use.
type readback[T any] struct {
	name   string
	read   func(string) ([]sluice.Message[T], error)
	unwrap func(sluice.Message[T]) []byte

	mu    sync.Mutex
	taken map[string]int // payload → copies handed out
}

func (r *readback[T]) Recv(ctx context.Context) (sluice.Message[T], func(), error) {
	wait := time.Millisecond
	for {
		if err := ctx.Err(); err != nil {
			return sluice.Message[T]{}, nil, err
		}
		msgs, err := r.read(r.name)
		if err != nil {
			return sluice.Message[T]{}, nil, fmt.Errorf("Storage.Read: %w", err)
		}
		if m, ok := r.next(msgs); ok {
			return m, sluice.Noop, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		wait = min(2*wait, 10*time.Millisecond)
	}
}

// next returns the first of msgs stored more often than handed out.
func (r *readback[T]) next(msgs []sluice.Message[T]) (sluice.Message[T], bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[string]int, len(msgs))
	for _, m := range msgs {
		p := string(r.unwrap(m))
		if seen[p]++; seen[p] > r.taken[p] {
			r.taken[p]++
			return m, true
		}
	}
	return sluice.Message[T]{}, false
}
