package spool_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/spool"
)

func ExampleInspect() {
	dir, _ := os.MkdirTemp("", "spool")
	defer os.RemoveAll(dir)

	// A spool holds three records; the first is received and acked.
	s, _ := spool.New(spool.Config{Dir: dir})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for _, v := range []string{"one", "two", "three"} {
		s.Send(ctx, nil, sluice.Message[[]byte]{Value: []byte(v)})
	}
	_, ack, _ := s.Recv(ctx)
	ack()
	stop()
	<-done

	rep, err := spool.Inspect(dir, func(seq uint64, _ time.Time, payload []byte) {
		fmt.Printf("unacked %d: %s\n", seq, payload)
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d segment, %d records, %d unacked, position %d, %d damaged\n",
		len(rep.Segments), rep.Records, rep.Unacked, rep.Position, len(rep.Damage))
	// Output:
	// unacked 2: two
	// unacked 3: three
	// 1 segment, 3 records, 2 unacked, position 1, 0 damaged
}
