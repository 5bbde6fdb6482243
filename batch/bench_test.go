package batch_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
)

// BenchmarkSend measures Send with a Flusher that does nothing: the cost
// of batching itself. Reported per Send; msgs/s counts messages.
func BenchmarkSend(b *testing.B) {
	noop := batch.FlushFunc[[]byte](func(context.Context, []sluice.Message[[]byte]) error { return nil })
	ack := func() {}
	tests := []struct {
		name     string
		cfg      batch.Config
		perSend  int
		ack      func()
		parallel bool
	}{
		{"1 msg", batch.Config{Count: 100}, 1, nil, false},
		{"1 msg with ack", batch.Config{Count: 100}, 1, ack, false},
		{"1 msg with bytes limit", batch.Config{Count: 100, Bytes: 1 << 20}, 1, ack, false},
		{"10 msgs with ack", batch.Config{Count: 100}, 10, ack, false},
		{"1 msg with ack, parallel senders", batch.Config{Count: 100}, 1, ack, true},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			d, err := batch.New(tc.cfg, batch.Flusher[[]byte](noop))
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(b.Context())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()
			msgs := make([]sluice.Message[[]byte], tc.perSend)
			for i := range msgs {
				msgs[i] = sluice.Message[[]byte]{Key: "k", Value: make([]byte, 100)}
			}
			b.ReportAllocs()
			if tc.parallel {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := d.Send(ctx, tc.ack, msgs...); err != nil {
							b.Error(err)
							return
						}
					}
				})
			} else {
				for b.Loop() {
					if err := d.Send(ctx, tc.ack, msgs...); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*tc.perSend)/b.Elapsed().Seconds(), "msgs/s")
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkSendEncoded is BenchmarkSend for a NewEncoded destination:
// Send encodes the messages and copies their bytes into the batch.
func BenchmarkSendEncoded(b *testing.B) {
	noop := batch.FlushBytesFunc(func(context.Context, []byte, []int) error { return nil })
	raw := func(buf []byte, m *sluice.Message[[]byte]) []byte { return append(buf, m.Value...) }
	for _, perSend := range []int{1, 64} {
		b.Run(fmt.Sprintf("%d msgs with ack", perSend), func(b *testing.B) {
			d, err := batch.NewEncoded(batch.Config{Count: 1024, Bytes: 1 << 20}, raw, noop)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(b.Context())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()
			msgs := make([]sluice.Message[[]byte], perSend)
			for i := range msgs {
				msgs[i] = sluice.Message[[]byte]{Value: make([]byte, 250)}
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Send(ctx, func() {}, msgs...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*perSend)/b.Elapsed().Seconds(), "msgs/s")
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
	// A read's run of 1000 lines of 250 bytes, as a passthrough source
	// hands it on (the daemon's LineDestination): the file destination's
	// defaults cut it at 1024 lines.
	b.Run("run of 1000 lines", func(b *testing.B) {
		d, err := batch.NewEncoded(batch.Config{Count: 1024, Bytes: 1 << 20}, raw, noop)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(b.Context())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		lines := make([]byte, 1000*250)
		ends := make([]int, 1000)
		for i := range ends {
			ends[i] = (i + 1) * 250
		}
		b.SetBytes(int64(len(lines)))
		b.ReportAllocs()
		for b.Loop() {
			if err := d.SendEncoded(ctx, func() {}, lines, ends); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*len(ends))/b.Elapsed().Seconds(), "msgs/s")
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	})
}
