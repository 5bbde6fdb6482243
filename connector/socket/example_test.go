package socket_test

import (
	"context"
	"fmt"
	"net"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/socket"
	"github.com/sluicehq/sluice/connector/syslog/framing"
	"github.com/sluicehq/sluice/event"
)

func ExampleNew() {
	// A receiver that reads octet-counted frames, as rsyslog's imtcp or
	// sluice's syslog source does.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	frames := make(chan string, 10)
	go func() {
		defer close(frames)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		z := framing.NewReader(c, 0)
		for {
			msg, _, err := z.Next()
			if err != nil {
				return // io.EOF: the destination closed the connection
			}
			frames <- string(msg)
		}
	}()

	d, err := socket.New(socket.Config{Addr: ln.Addr().String(), Framing: "octet"})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()

	acked := make(chan struct{})
	_ = d.Send(ctx, func() { close(acked) },
		sluice.Message[event.Event]{Value: event.Event{Raw: []byte("<13>1 2026-11-24T23:00:00Z host app - - - hello")}},
		sluice.Message[event.Event]{Value: event.Event{Raw: []byte("<13>1 2026-11-24T23:00:00Z host app - - - two\nlines")}})
	<-acked // written to the connection
	cancel()
	fmt.Println("acked; Run:", <-done)
	for f := range frames {
		fmt.Printf("%q\n", f)
	}
	// Output:
	// acked; Run: <nil>
	// "<13>1 2026-11-24T23:00:00Z host app - - - hello"
	// "<13>1 2026-11-24T23:00:00Z host app - - - two\nlines"
}
