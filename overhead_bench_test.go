package sluice_test

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/memory"
)

// BenchmarkOverhead measures what a Processor costs per event over a plain
// loop doing the same work: Recv from a source, Send the message with its
// ack to a destination. Both move events between the same kind of memory
// queues, with parallelism 1 and an ack per message that travels from the
// consumer back to the producer. To be immune to a noisy machine they run
// side by side: chunks of events go through the plain loop and through the
// Processor in turn, and each chunk is timed on its own.
//
// One op is one event through each of the two. The metrics are per event:
// loop-ns and proc-ns, their difference overhead-ns (issue 20: at most
// 50), and loop-allocs and proc-allocs (the fixture's producer allocates
// in both: memory.Queue guards each sender's ack with sluice.AckOnce).
//
// Shapes:
//   - memory: the queues themselves, a BatchSource and a BatchDestination;
//     the plain loop still moves one event per Recv and Send;
//   - one-by-one: the queues behind SourceFunc and DestinationFunc, which
//     hide their batch methods, so the Processor moves one event at a time
//     too.
func BenchmarkOverhead(b *testing.B) {
	for _, shape := range []struct {
		name string
		wrap func(*memory.Queue[[]byte], *memory.Queue[[]byte]) (sluice.Source[[]byte], sluice.Destination[[]byte])
	}{
		{"memory", func(s, d *memory.Queue[[]byte]) (sluice.Source[[]byte], sluice.Destination[[]byte]) { return s, d }},
		{"one-by-one", func(s, d *memory.Queue[[]byte]) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
			return sluice.SourceFunc[[]byte](s.Recv), sluice.DestinationFunc[[]byte](d.Send)
		}},
	} {
		b.Run(shape.name, func(b *testing.B) {
			loop := newRig(b, func(ctx context.Context, src sluice.Source[[]byte], dst sluice.Destination[[]byte]) error {
				one := make([]sluice.Message[[]byte], 1) // a variadic m would allocate
				for {
					m, ack, err := src.Recv(ctx)
					if err != nil {
						return err
					}
					one[0] = m
					if err := dst.Send(ctx, ack, one...); err != nil {
						return err
					}
				}
			}, shape.wrap)
			proc := newRig(b, func(ctx context.Context, src sluice.Source[[]byte], dst sluice.Destination[[]byte]) error {
				p, err := sluice.New(sluice.Config[[]byte, []byte]{Source: src, Destination: dst, Handler: sluice.Pipe[[]byte]()})
				if err != nil {
					return err
				}
				return p.Run(ctx)
			}, shape.wrap)
			const chunk = 8192
			var l, p cost
			b.ResetTimer()
			for i, left := 0, b.N; left > 0; i, left = i+1, left-chunk {
				n := min(chunk, left)
				if i%2 == 0 { // take turns at going first
					l.add(loop.move(b, n))
					p.add(proc.move(b, n))
				} else {
					p.add(proc.move(b, n))
					l.add(loop.move(b, n))
				}
			}
			n := float64(b.N)
			b.ReportMetric(float64(l.wall.Nanoseconds())/n, "loop-ns/ev")
			b.ReportMetric(float64(p.wall.Nanoseconds())/n, "proc-ns/ev")
			b.ReportMetric(float64((p.wall-l.wall).Nanoseconds())/n, "overhead-ns/ev")
			b.ReportMetric(float64(l.cpu.Nanoseconds())/n, "loop-cpu-ns/ev")
			b.ReportMetric(float64(p.cpu.Nanoseconds())/n, "proc-cpu-ns/ev")
			b.ReportMetric(float64((p.cpu-l.cpu).Nanoseconds())/n, "overhead-cpu-ns/ev")
			b.ReportMetric(float64(l.allocs)/n, "loop-allocs/ev")
			b.ReportMetric(float64(p.allocs)/n, "proc-allocs/ev")
			loop.stop(b)
			proc.stop(b)
		})
	}
}

// rig is a producer, a memory queue, a middle (the Processor or the plain
// loop), a second memory queue and a consumer that acks every event.
type rig struct {
	src, dst *memory.Queue[[]byte]
	acked    atomic.Int64
	ack      func()
	cancel   context.CancelFunc
	done     chan error
}

func newRig(b *testing.B, middle func(context.Context, sluice.Source[[]byte], sluice.Destination[[]byte]) error,
	wrap func(*memory.Queue[[]byte], *memory.Queue[[]byte]) (sluice.Source[[]byte], sluice.Destination[[]byte])) *rig {
	r := &rig{src: memory.New[[]byte](1024), dst: memory.New[[]byte](1024), done: make(chan error, 1)}
	r.ack = func() { r.acked.Add(1) }
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	s, d := wrap(r.src, r.dst)
	go func() { r.done <- middle(ctx, s, d) }()
	return r
}

var payload20 = []byte("01234567890123456789")

// cost is what moving events took: wall time until the last ack reached
// the producer, CPU time of the whole process (user and system, every
// goroutine, the garbage collector's too), and allocations.
type cost struct {
	wall, cpu time.Duration
	allocs    uint64
}

func (c *cost) add(d cost) {
	c.wall += d.wall
	c.cpu += d.cpu
	c.allocs += d.allocs
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// move sends n events through r and returns what that cost.
func (r *rig) move(b *testing.B, n int) cost {
	ctx := b.Context()
	want := r.acked.Load() + int64(n)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	allocs := ms.Mallocs
	cpu := cpuTime(b)
	start := time.Now()
	sent := make(chan error, 1)
	go func() {
		m := sluice.Message[[]byte]{Value: payload20}
		for range n {
			if err := r.src.Send(ctx, r.ack, m); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	for range n {
		_, a, err := r.dst.Recv(ctx)
		if err != nil {
			b.Fatal(err)
		}
		a()
	}
	if err := <-sent; err != nil {
		b.Fatal(err)
	}
	c := cost{wall: time.Since(start), cpu: cpuTime(b) - cpu}
	runtime.ReadMemStats(&ms)
	c.allocs = ms.Mallocs - allocs - 2 // the producer goroutine and its channel
	if got := r.acked.Load(); got != want {
		b.Fatalf("acked %d events, want %d", got, want)
	}
	return c
}

func (r *rig) stop(b *testing.B) {
	r.cancel()
	if err := <-r.done; err != nil && !errors.Is(err, context.Canceled) {
		b.Fatal(err)
	}
}
