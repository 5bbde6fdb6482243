package httpsrc_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connector/httpsrc"
)

// A client's POST gets its 200 only once the consumer has acked every
// event of the request.
func ExampleNew() {
	src, err := httpsrc.New(httpsrc.Config{Addr: "127.0.0.1:0", Format: "lines", RequestTimeout: 10 * time.Second}, "hooks")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- src.Run(ctx) }()
	defer func() { cancel(); <-ran }()
	addr, err := src.Addr(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}

	status := make(chan string, 1)
	go func() {
		resp, err := http.Post("http://"+addr.String()+"/", "text/plain", strings.NewReader("hello\nworld\n"))
		if err != nil {
			status <- err.Error()
			return
		}
		resp.Body.Close()
		status <- resp.Status
	}()
	for range 2 {
		m, ack, err := src.Recv(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s from %s\n", m.Value.Raw, m.Value.Source)
		ack()
	}
	fmt.Println(<-status)
	// Output:
	// hello from hooks
	// world from hooks
	// 200 OK
}
