// Command pipeline is the smallest useful sluice program: it reads lines
// from standard input, drops empty ones, and prints the rest with a line
// number, acking each line once it is written. It ends at EOF.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"

	"github.com/sluicehq/sluice"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	lines := bufio.NewScanner(os.Stdin)
	src := sluice.SourceFunc[string](func(ctx context.Context) (sluice.Message[string], func(), error) {
		if err := ctx.Err(); err != nil {
			return sluice.Message[string]{}, nil, err
		}
		if !lines.Scan() {
			if err := lines.Err(); err != nil {
				return sluice.Message[string]{}, nil, err
			}
			return sluice.Message[string]{}, nil, io.EOF
		}
		return sluice.Message[string]{Value: lines.Text()}, sluice.Noop, nil
	})
	var n atomic.Int64
	number := sluice.HandlerFunc[string, string](func(_ context.Context, m sluice.Message[string]) ([]sluice.Message[string], error) {
		if strings.TrimSpace(m.Value) == "" {
			return nil, nil // dropped, and acked by the processor
		}
		m.Value = fmt.Sprintf("%6d  %s", n.Add(1), m.Value)
		return []sluice.Message[string]{m}, nil
	})
	out := bufio.NewWriter(os.Stdout)
	print := sluice.DestinationFunc[string](func(_ context.Context, ack func(), msgs ...sluice.Message[string]) error {
		for _, m := range msgs {
			out.WriteString(m.Value)
			out.WriteByte('\n')
		}
		if err := out.Flush(); err != nil {
			return err
		}
		sluice.Ack(ack)
		return nil
	})

	p, err := sluice.New(sluice.Config[string, string]{Source: src, Destination: print, Handler: number})
	if err == nil {
		err = p.Run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(1)
	}
}
