package syslog

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// A stream whose events nobody receives stops reading once the hand-off
// queue holds queueSize frames (the default, or a deeper one set): the
// reader waits for room, the sender's writes wait in TCP, and once Recv
// takes, every line comes out once, in order. The load (20 MB) is far more
// than the queue and both sockets' buffers hold, so the sender cannot be
// done while the reader waits.
func TestQueueBoundPushesSenderBack(t *testing.T) {
	for _, tc := range []struct {
		name      string
		queueSize int // 0: the default
		want      int
	}{
		{"default", 0, DefaultConfig().QueueSize},
		{"4096", 4096, 4096},
	} {
		t.Run(tc.name, func(t *testing.T) { testQueueBound(t, tc.queueSize, tc.want) })
	}
}

func testQueueBound(t *testing.T, queueSize, bound int) {
	s, err := New(Config{Addr: "127.0.0.1:0", Network: "tcp", QueueSize: queueSize}, "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	addrs, err := s.Addrs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addrs[0].String())
	if err != nil {
		t.Fatal(err)
	}
	const n, pad = 100_000, 150
	var load strings.Builder
	for i := range n {
		fmt.Fprintf(&load, "<14>1 2026-11-24T10:00:00Z host app - - - seq=%08d %s\n", i, strings.Repeat("x", pad))
	}
	var written atomic.Int64
	sent := make(chan error, 1)
	go func() {
		b := []byte(load.String())
		for len(b) > 0 {
			k, err := c.Write(b[:min(len(b), 64<<10)])
			written.Add(int64(k))
			if err != nil {
				sent <- err
				return
			}
			b = b[k:]
		}
		sent <- c.Close()
	}()

	// Poll (no sleep-and-check-once) until the reader waits for room.
	for deadline := time.Now().Add(60 * time.Second); !s.q.Blocked(); {
		if time.Now().After(deadline) {
			t.Fatalf("the reader never waited for room; %d frames queued, %d bytes written", s.q.Len(), written.Load())
		}
		time.Sleep(time.Millisecond)
	}
	// A Put waits only when its batch (at most maxPending frames) does not
	// fit: so the queue is within a batch of its bound, not of another.
	if got := s.q.Len(); got > bound || got <= bound-maxPending {
		t.Fatalf("%d frames queued, want (%d, %d]", got, bound-maxPending, bound)
	}
	select {
	case err := <-sent:
		t.Fatalf("the sender finished (%v) while the reader waited: not pushed back", err)
	default:
	}
	t.Logf("reader waiting with %d frames queued after %d of %d bytes written", s.q.Len(), written.Load(), load.Len())

	msgs, acks := make([]sluice.Message[event.Event], sluice.RecvBatchSize), make([]func(), sluice.RecvBatchSize)
	rctx, rcancel := context.WithTimeout(ctx, 120*time.Second)
	defer rcancel()
	for next := 0; next < n; {
		k, err := s.RecvBatch(rctx, msgs, acks)
		if err != nil {
			t.Fatalf("after %d lines: %v", next, err)
		}
		for _, m := range msgs[:k] {
			if want := fmt.Sprintf("seq=%08d ", next); !strings.Contains(string(m.Value.Raw), want) {
				t.Fatalf("line %d: %q, want %s", next, m.Value.Raw, want)
			}
			next++
		}
	}
	if err := <-sent; err != nil {
		t.Fatalf("sender: %v", err)
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
}
