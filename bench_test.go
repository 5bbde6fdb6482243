package sluice_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/memory"
)

// BenchmarkProcessor moves b.N messages of 20 bytes from a memory queue
// through Pipe to a memory queue; a consumer acks each one, and the ack
// travels back to the producer. Reported per message. With ack=none the
// producer sends without an ack, which isolates the processor and queues
// from the cost of memory's once-only ack guard (one allocation per
// message).
func BenchmarkProcessor(b *testing.B) {
	for _, withAck := range []bool{true, false} {
		for _, par := range []int{1, 2} {
			name := fmt.Sprintf("ack=%s/parallelism=%d", map[bool]string{true: "per-message", false: "none"}[withAck], par)
			b.Run(name, func(b *testing.B) {
				benchPipeline(b, b.N, par, withAck)
			})
		}
	}
}

// BenchmarkMem has the shape of kawa's BenchmarkMem: 1,000,000 messages of
// 20 bytes from a memory source through the processor to a memory
// destination, one ack per message. One op is the whole million; divide
// ns/op by 1e6 for ns/message.
func BenchmarkMem(b *testing.B) {
	for range b.N {
		benchPipeline(b, 1_000_000, 1, true)
	}
}

func benchPipeline(b *testing.B, n, par int, withAck bool) {
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	src, dst := memory.New[[]byte](1024), memory.New[[]byte](1024)
	p, err := sluice.New(sluice.Config[[]byte, []byte]{Source: src, Destination: dst, Handler: sluice.Pipe[[]byte]()}, sluice.Parallelism(par))
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	payload := []byte("01234567890123456789")
	var acked atomic.Int64
	ack := func() { acked.Add(1) }
	want := int64(n)
	if !withAck {
		ack, want = nil, 0
	}
	go func() {
		m := sluice.Message[[]byte]{Value: payload}
		for range n {
			if src.Send(ctx, ack, m) != nil {
				return
			}
		}
	}()
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for range n {
		_, a, err := dst.Recv(ctx)
		if err != nil {
			b.Fatal(err)
		}
		a()
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if acked.Load() != want {
		b.Fatalf("acked %d of %d", acked.Load(), want)
	}
}
