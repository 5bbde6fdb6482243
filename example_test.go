package sluice_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/memory"
)

// A whole pipeline: words from an in-memory queue are upper-cased, empty
// ones are dropped (and acked), and the rest go to another queue.
func Example() {
	ctx := context.Background()
	in, out := memory.New[string](10), memory.New[string](10)
	for _, w := range []string{"sluice", "", "moves", "events"} {
		_ = in.Send(ctx, func() { fmt.Printf("acked %q\n", w) }, sluice.Message[string]{Value: w})
	}
	in.Close() // the source ends: Run returns once everything is through

	upper := sluice.HandlerFunc[string, string](func(_ context.Context, m sluice.Message[string]) ([]sluice.Message[string], error) {
		if m.Value == "" {
			return nil, nil // dropped: the processor acks it
		}
		m.Value = strings.ToUpper(m.Value)
		return []sluice.Message[string]{m}, nil
	})
	p, err := sluice.New(sluice.Config[string, string]{Source: in, Destination: out, Handler: upper})
	if err != nil {
		panic(err)
	}
	if err := p.Run(ctx); err != nil {
		panic(err)
	}
	for out.Len() > 0 {
		m, ack, _ := out.Recv(ctx)
		fmt.Println(m.Value)
		ack() // delivered: the ack travels back to the producer
	}
	// Output:
	// acked ""
	// SLUICE
	// acked "sluice"
	// MOVES
	// acked "moves"
	// EVENTS
	// acked "events"
}

// A custom Source from a function: lines of a reader, ending with io.EOF.
func ExampleSourceFunc() {
	lines := strings.Split("one\ntwo\nthree", "\n")
	src := sluice.SourceFunc[string](func(ctx context.Context) (sluice.Message[string], func(), error) {
		if err := ctx.Err(); err != nil {
			return sluice.Message[string]{}, nil, err
		}
		if len(lines) == 0 {
			return sluice.Message[string]{}, nil, io.EOF
		}
		l := lines[0]
		lines = lines[1:]
		return sluice.Message[string]{Value: l}, sluice.NoopAck, nil
	})
	print := sluice.DestinationFunc[string](func(_ context.Context, ack func(), msgs ...sluice.Message[string]) error {
		for _, m := range msgs {
			fmt.Println(m.Value)
		}
		sluice.Ack(ack)
		return nil
	})
	p, _ := sluice.New(sluice.Config[string, string]{Source: src, Destination: print, Handler: sluice.Pipe[string]()})
	fmt.Println(p.Run(context.Background()))
	// Output:
	// one
	// two
	// three
	// <nil>
}

// Hooks count what a Processor receives and sends, for metrics; a hook
// could also start a span and return its context.
func ExampleWithHooks() {
	ctx := context.Background()
	in, out := memory.New[string](10), memory.New[string](10)
	for _, w := range []string{"a", "b", "c"} {
		_ = in.Send(ctx, nil, sluice.Message[string]{Value: w})
	}
	in.Close()

	var received, sent atomic.Int64
	hooks := sluice.Hooks{
		Recv: func(ctx context.Context) (context.Context, func(error)) {
			return ctx, func(err error) {
				if err == nil {
					received.Add(1)
				}
			}
		},
		Send: func(ctx context.Context, n int) (context.Context, func(error)) {
			return ctx, func(err error) {
				if err == nil {
					sent.Add(int64(n))
				}
			}
		},
	}
	p, err := sluice.New(sluice.Config[string, string]{Source: in, Destination: out, Handler: sluice.Pipe[string]()},
		sluice.WithHooks(hooks))
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Run(ctx), received.Load(), "received,", sent.Load(), "sent")
	// Output: <nil> 3 received, 3 sent
}

// A destination that writes a Send's messages in parts of two acks the
// Send once every part is written.
func ExampleAckCountdown() {
	write := func(part []sluice.Message[string]) { fmt.Println("wrote", len(part)) }
	dst := sluice.DestinationFunc[string](func(ctx context.Context, ack func(), msgs ...sluice.Message[string]) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		part := sluice.AckCountdown((len(msgs)+1)/2, ack) // no parts: acks at once
		for i := 0; i < len(msgs); i += 2 {
			write(msgs[i:min(i+2, len(msgs))])
			part()
		}
		return nil
	})
	msgs := []sluice.Message[string]{{Value: "a"}, {Value: "b"}, {Value: "c"}}
	_ = dst.Send(context.Background(), func() { fmt.Println("acked") }, msgs...)
	// Output:
	// wrote 2
	// wrote 1
	// acked
}

// A source whose ack commits one more message must not commit another
// when the ack is called twice: AckOnce makes a second call do nothing.
func ExampleAckOnce() {
	committed := 0
	ack := sluice.AckOnce(func() { committed++ })
	ack()
	ack()
	fmt.Println("committed", committed)
	// Output: committed 1
}

// A destination marks the errors worth trying again; a wrapper such as
// the batch package backs off and retries those, and stops on the rest.
func ExampleRetryable() {
	post := func(status int) error {
		err := fmt.Errorf("webhook: status %d", status)
		if status == 429 || status >= 500 {
			return sluice.Retryable(err)
		}
		return err
	}
	for _, status := range []int{503, 400} {
		err := post(status)
		fmt.Println(err, sluice.IsRetryable(err))
	}
	fmt.Println(sluice.IsRetryable(fmt.Errorf("flush: %w", post(503)))) // wrapped, still retryable
	// Output:
	// webhook: status 503 true
	// webhook: status 400 false
	// true
}

// words is a finite source that can hand over several messages at once.
// Recv and RecvBatch are safe for concurrent use.
type words struct {
	mu   sync.Mutex
	left []string
}

func (w *words) Recv(ctx context.Context) (sluice.Message[string], func(), error) {
	var msgs [1]sluice.Message[string]
	var acks [1]func()
	_, err := w.RecvBatch(ctx, msgs[:], acks[:])
	return msgs[0], acks[0], err
}

func (w *words) RecvBatch(ctx context.Context, msgs []sluice.Message[string], acks []func()) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.left) == 0 {
		return 0, io.EOF
	}
	n := min(len(msgs), len(w.left))
	for i, v := range w.left[:n] {
		msgs[i], acks[i] = sluice.Message[string]{Value: v}, sluice.NoopAck
	}
	w.left = w.left[n:]
	return n, nil
}

// A pass-through Processor takes what a BatchSource has, up to
// RecvBatchSize messages, and sends it on in one Send.
func ExampleBatchSource() {
	src := &words{left: strings.Fields("sluice moves events in batches")}
	dst := sluice.DestinationFunc[string](func(_ context.Context, ack func(), msgs ...sluice.Message[string]) error {
		fmt.Println("Send of", len(msgs))
		sluice.Ack(ack)
		return nil
	})
	p, err := sluice.New(sluice.Config[string, string]{Source: src, Destination: dst, Handler: sluice.Pipe[string]()})
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Run(context.Background()))
	// Output:
	// Send of 5
	// <nil>
}

// printer is a BatchDestination that prints each message and acks it at
// once; its Send acks when it has printed them all.
type printer struct{}

func (printer) Send(ctx context.Context, ack func(), msgs ...sluice.Message[string]) error {
	for _, m := range msgs {
		fmt.Println(m.Value)
	}
	sluice.Ack(ack)
	return nil
}

func (printer) SendBatch(ctx context.Context, msgs []sluice.Message[string], acks []func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, m := range msgs {
		fmt.Println(m.Value)
		sluice.Ack(acks[i]) // written: this message's ack, and only its
	}
	return nil
}

// From a BatchSource to a BatchDestination, a pass-through Processor
// hands each batch on with the source's acks as they are: one SendBatch,
// no ack made to join them.
func ExampleBatchDestination() {
	src := &words{left: strings.Fields("each keeps its ack")}
	p, err := sluice.New(sluice.Config[string, string]{Source: src, Destination: printer{}, Handler: sluice.Pipe[string]()})
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Run(context.Background()))
	// Output:
	// each
	// keeps
	// its
	// ack
	// <nil>
}
