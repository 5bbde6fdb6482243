package multi_test

import (
	"context"
	"io"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/multi"
)

// BenchmarkDestinationSend measures the fan-out of one message to two
// destinations that ack at once: the cost is multi's own, the combined
// ack from [sluice.AckAfter].
func BenchmarkDestinationSend(b *testing.B) {
	acking := sluice.DestinationFunc[string](func(_ context.Context, ack func(), _ ...sluice.Message[string]) error {
		sluice.Ack(ack)
		return nil
	})
	d, err := multi.NewDestination[string](acking, acking)
	if err != nil {
		b.Fatal(err)
	}
	// One slice for every Send, as a Processor does: building a variadic
	// slice at each call would cost an allocation that is not multi's.
	msgs := []sluice.Message[string]{{Value: "x"}}
	ctx := b.Context()
	for _, bc := range []struct {
		name string
		ack  func()
	}{
		{"ack", func() {}},
		{"nil ack", nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Send(ctx, bc.ack, msgs...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSourceRecv measures the fan-in hand-off of messages from two
// sources to one Recv.
func BenchmarkSourceRecv(b *testing.B) {
	gen := sluice.SourceFunc[string](func(ctx context.Context) (sluice.Message[string], func(), error) {
		if err := ctx.Err(); err != nil {
			return sluice.Message[string]{}, nil, err
		}
		return sluice.Message[string]{Value: "x"}, sluice.Noop, nil
	})
	s, err := multi.NewSource[string](gen, gen)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.Context())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Recv(ctx); err != nil && err != io.EOF {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
