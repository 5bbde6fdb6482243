package sluice_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/memory"
)

// BenchmarkProcessor moves b.N messages of 20 bytes from a memory queue
// through Pipe to a memory queue; a consumer acks each one, and the ack
// travels back to the producer. Reported per message. With ack=none the
// producer sends without an ack, which isolates the processor and queues
// from the cost of memory's once-only ack guard on the producer's ack (a
// closure and its flag: two allocations per message).
func BenchmarkProcessor(b *testing.B) {
	for _, withAck := range []bool{true, false} {
		for _, par := range []int{1, 2} {
			name := fmt.Sprintf("ack=%s/parallelism=%d", map[bool]string{true: "per-message", false: "none"}[withAck], par)
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(20)
				benchPipeline(b, b.N, par, withAck)
			})
		}
	}
}

// BenchmarkMem compares like with like against kawa's BenchmarkMem
// (test/stream_test.go in runreveal/kawa, 384 ms per op on this machine
// kind, BENCH.md P3). That benchmark has no processor: one goroutine Sends
// 1,000,000 messages of 20 bytes, with a nil ack, to kawa's memory
// destination, an unbuffered channel, and another Recvs them from the
// memory source on the same channel and calls each ack, a no-op. One op is
// the whole million, so ns/op reads as kawa's; ns/msg is per message and
// MB/s counts the 20-byte payloads.
//
//   - kawa-shape/cap=1: the same work on a memory.Queue of capacity 1
//     (the closest to an unbuffered channel): Send with a nil ack, Recv,
//     call the no-op ack. This is the like-for-like figure.
//   - chan/cap=0: the floor under it, the bare unbuffered channel with a
//     select on ctx.Done() at both ends, as kawa's memory source and
//     destination do, without the Source and Destination interfaces.
//   - kawa-shape/cap=1024 and chan/cap=1024: the same with room for 1024
//     messages (memory.Queue's default), where the goroutines rarely wait
//     for each other.
//   - processor: more work than kawa's: producer → memory.Queue(1024) →
//     Processor (Pipe) → memory.Queue(1024) → consumer, and every ack
//     travels back from the consumer to the producer's counting ack, two
//     queue hops and a Processor per message. BenchmarkOverhead isolates
//     what the Processor adds.
func BenchmarkMem(b *testing.B) {
	payloads := kawaPayloads()
	for _, bc := range []struct {
		name string
		run  func(b *testing.B, ctx context.Context)
	}{
		{"kawa-shape/cap=1", kawaShape(1, payloads)},
		{"kawa-shape/cap=1024", kawaShape(1024, payloads)},
		{"chan/cap=0", chanShape(0, payloads)},
		{"chan/cap=1024", chanShape(1024, payloads)},
		{"processor", func(b *testing.B, ctx context.Context) {
			benchPipeline(b, memN, 1, true)
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(memN * 20)
			cpu := cpuTime(b)
			for range b.N {
				ctx, cancel := context.WithCancel(b.Context())
				bc.run(b, ctx)
				cancel()
			}
			msgs := float64(b.N) * memN
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/msgs, "ns/msg")
			b.ReportMetric(float64((cpuTime(b)-cpu).Nanoseconds())/msgs, "cpu-ns/msg")
		})
	}
}

// memN is the number of messages of one op of BenchmarkMem, as in kawa's.
const memN = 1_000_000

// kawaShape is BenchmarkMem's kawa-shape case on a queue of capacity c.
func kawaShape(c int, payloads [][]byte) func(*testing.B, context.Context) {
	return func(b *testing.B, ctx context.Context) {
		q := memory.New[[]byte](c)
		// Through the interfaces, as kawa's benchmark calls its pair.
		var dst sluice.Destination[[]byte] = q
		var src sluice.Source[[]byte] = q
		go func() {
			for i := range memN {
				if dst.Send(ctx, nil, sluice.Message[[]byte]{Value: payloads[i%len(payloads)]}) != nil {
					return
				}
			}
		}()
		for range memN {
			_, ack, err := src.Recv(ctx)
			if err != nil {
				b.Fatal(err)
			}
			ack()
		}
	}
}

// chanShape is BenchmarkMem's chan case on a channel of capacity c.
func chanShape(c int, payloads [][]byte) func(*testing.B, context.Context) {
	return func(b *testing.B, ctx context.Context) {
		ch := make(chan []byte, c)
		go func() {
			for i := range memN {
				select {
				case ch <- payloads[i%len(payloads)]:
				case <-ctx.Done():
					return
				}
			}
		}()
		noop := func() {}
		for range memN {
			select {
			case <-ch:
				noop()
			case <-ctx.Done():
				b.Fatal(ctx.Err())
			}
		}
	}
}

// kawaPayloads returns 25 random 20-byte payloads, which kawa's benchmark
// sends in turn; the seed is fixed.
func kawaPayloads() [][]byte {
	rng := rand.New(rand.NewPCG(42, 0))
	p := make([][]byte, 25)
	for i := range p {
		p[i] = make([]byte, 20)
		for j := range p[i] {
			p[i][j] = byte(rng.Uint32())
		}
	}
	return p
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
