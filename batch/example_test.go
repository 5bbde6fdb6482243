package batch_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/memory"
)

func ExampleNew() {
	flusher := batch.FlushFunc[[]byte](func(ctx context.Context, msgs []sluice.Message[[]byte]) error {
		fmt.Println("flushed", len(msgs), "messages")
		return nil
	})
	d, err := batch.New(batch.Config{Count: 3, Age: time.Minute, Parallelism: 1}, flusher)
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()

	var acked atomic.Int32
	for i := range 7 {
		msg := sluice.Message[[]byte]{Value: fmt.Appendf(nil, "event %d", i)}
		if err := d.Send(ctx, func() { acked.Add(1) }, msg); err != nil {
			fmt.Println(err)
		}
	}
	stop() // Run flushes the partial batch it holds, then returns
	fmt.Println("run:", <-done)
	fmt.Println("acked:", acked.Load())
	// Output:
	// flushed 3 messages
	// flushed 3 messages
	// flushed 1 messages
	// run: <nil>
	// acked: 7
}

// A destination that writes lines encodes each message as it is sent;
// the flusher gets a batch's bytes and where each line ends.
func ExampleNewEncoded() {
	line := func(b []byte, m *sluice.Message[string]) []byte { return append(append(b, m.Value...), '\n') }
	flusher := batch.FlushBytesFunc(func(ctx context.Context, b []byte, ends []int) error {
		fmt.Printf("flushed %d lines: %q\n", len(ends), b)
		return nil
	})
	d, err := batch.NewEncoded(batch.Config{Count: 2, Age: time.Minute, Parallelism: 1}, line, flusher)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	for _, v := range []string{"a", "bc", "def"} {
		if err := d.Send(ctx, nil, sluice.Message[string]{Value: v}); err != nil {
			fmt.Println(err)
		}
	}
	stop()
	fmt.Println("run:", <-done)
	// Output:
	// flushed 2 lines: "a\nbc\n"
	// flushed 1 lines: "def\n"
	// run: <nil>
}

// A Processor runs the batch destination for as long as it runs, and stops
// it, flushing what it holds, when the source is exhausted.
func Example_processor() {
	src := memory.New[[]byte](0)
	for i := range 5 {
		_ = src.Send(context.Background(), nil, sluice.Message[[]byte]{Value: fmt.Appendf(nil, "event %d", i)})
	}
	src.Close()

	dst, err := batch.New(batch.Config{Count: 2, Age: time.Minute, Parallelism: 1},
		batch.FlushFunc[[]byte](func(ctx context.Context, msgs []sluice.Message[[]byte]) error {
			for _, m := range msgs {
				fmt.Printf("%s ", m.Value)
			}
			fmt.Println("| flushed")
			return nil
		}))
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := sluice.New(sluice.Config[[]byte, []byte]{Source: src, Destination: dst, Handler: sluice.Pipe[[]byte]()})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("run:", p.Run(context.Background()))
	// Output:
	// event 0 event 1 | flushed
	// event 2 event 3 | flushed
	// event 4 | flushed
	// run: <nil>
}
