package gelf_test

import (
	"bufio"
	"encoding/json"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/gelf"
)

// TestTCPInputClosedIdle has the GELF input close its connection once it
// read the first batch, as Graylog does when it restarts or drops an idle
// client, and stay up: the second batch must not go out on the closed
// connection (the kernel takes the write, the input answers with a reset,
// and an acked batch would be lost) but on a new one, and arrive.
func TestTCPInputClosedIdle(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	var conns sync.WaitGroup
	t.Cleanup(func() { l.Close(); conns.Wait() })
	closedFirst := make(chan struct{})
	conns.Go(func() {
		for k := 0; ; k++ {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Go(func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					frame, err := r.ReadBytes(0)
					if err != nil {
						return
					}
					var m struct {
						Short string `json:"short_message"`
					}
					if err := json.Unmarshal(frame[:len(frame)-1], &m); err != nil {
						t.Errorf("frame %q: %v", frame, err)
					}
					mu.Lock()
					got = append(got, m.Short)
					mu.Unlock()
					if k == 0 {
						c.Close() // the first connection: closed after one message
						close(closedFirst)
						return
					}
				}
			})
		}
	})
	d, err := gelf.New(gelf.Config{ServiceAddr: l.Addr().String(), Network: "tcp",
		Batch: batch.Config{Count: 1, Age: time.Hour, Parallelism: 1, Retry: fastRetry}})
	if err != nil {
		t.Fatal(err)
	}
	run(t, d)
	send(t, d, ev("first"))
	<-closedFirst
	send(t, d, ev("second"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the input has %q: the acked second batch was lost on the connection it had closed", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
