package multi_test

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/memory"
	"github.com/sluicehq/sluice/multi"
)

func ExampleNewSource() {
	ctx := context.Background()
	east, west := memory.New[string](8), memory.New[string](8)
	east.Send(ctx, func() { fmt.Println("east: acked") }, sluice.Message[string]{Value: "e1"}, sluice.Message[string]{Value: "e2"})
	west.Send(ctx, func() { fmt.Println("west: acked") }, sluice.Message[string]{Value: "w1"})
	east.Close() // finite sources: Recv returns io.EOF once both are drained
	west.Close()

	src, err := multi.NewSource[string](east, west)
	if err != nil {
		fmt.Println(err)
		return
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- src.Run(runCtx) }()

	acks := make(map[string]func())
	for {
		msg, ack, err := src.Recv(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			break
		}
		acks[msg.Value] = ack
	}
	// The order between sources is not defined: sort to print.
	for _, v := range slices.Sorted(maps.Keys(acks)) {
		fmt.Println("received", v)
		acks[v]() // each ack goes back to the source its message came from
	}
	stop()
	fmt.Println("run:", <-done)
	// Output:
	// received e1
	// received e2
	// east: acked
	// received w1
	// west: acked
	// run: <nil>
}

func ExampleNewDestination() {
	ctx := context.Background()
	primary, replica := memory.New[string](8), memory.New[string](8)
	dst, err := multi.NewDestination[string](primary, replica)
	if err != nil {
		fmt.Println(err)
		return
	}
	err = dst.Send(ctx, func() { fmt.Println("acked by both") }, sluice.Message[string]{Value: "hello"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, q := range []*memory.Queue[string]{primary, replica} {
		msg, ack, _ := q.Recv(ctx)
		fmt.Println("received", msg.Value)
		ack()
	}
	// Output:
	// received hello
	// received hello
	// acked by both
}
