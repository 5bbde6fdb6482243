package sluice_test

import (
	"context"
	"fmt"
	"io"
	"strings"

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
		return sluice.Message[string]{Value: l}, sluice.Noop, nil
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
