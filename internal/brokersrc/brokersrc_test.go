package brokersrc_test

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/brokersrc"
)

// msg is a source's own delivery type, embedding a Delivery.
type msg struct {
	brokersrc.Delivery[string]
	acked atomic.Bool
}

func put(t *testing.T, q *brokersrc.Queue[string, *msg], v string) *msg {
	t.Helper()
	d := &msg{}
	d.Msg = sluice.Message[string]{Value: v}
	d.Ack = func() {
		if d.acked.CompareAndSwap(false, true) {
			q.Acked(d)
		}
	}
	if !q.Put(context.Background(), d) {
		t.Fatal("Put refused with room left")
	}
	return d
}

func TestQueue(t *testing.T) {
	ctx := context.Background()
	q := brokersrc.New[string, *msg]("test source", 3)
	for _, v := range []string{"a", "b", "c"} {
		put(t, q, v)
	}
	// Full: Put waits, and gives up when its ctx is done.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if q.Put(short, &msg{}) {
		t.Fatal("Put into a full queue did not wait")
	}
	m, ackA, err := q.Recv(ctx)
	if err != nil || m.Value != "a" {
		t.Fatalf("Recv = %q, %v; want a", m.Value, err)
	}
	msgs, acks := make([]sluice.Message[string], 4), make([]func(), 4)
	n, err := q.RecvBatch(ctx, msgs[:1], acks[:1])
	if err != nil || n != 1 || msgs[0].Value != "b" {
		t.Fatalf("RecvBatch = %d %q, %v; want b", n, msgs[0].Value, err)
	}
	ackB := acks[0]
	put(t, q, "d")
	q.Stop()
	if _, _, err := q.Recv(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv after Stop: %v, want io.EOF", err)
	}
	if _, err := q.RecvBatch(ctx, msgs, acks); !errors.Is(err, io.EOF) {
		t.Fatalf("RecvBatch after Stop: %v, want io.EOF", err)
	}
	// Wait waits for a and b, handed out, and not for c and d. start is
	// read before the acking goroutine exists, so that they come at least
	// 50ms after it however the two goroutines are scheduled.
	start := time.Now()
	go func() {
		time.Sleep(50 * time.Millisecond)
		ackA()
		ackA() // a repeat counts once
		ackB()
	}()
	q.Wait(5 * time.Second)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("Wait returned after %v, before the handed-out messages were acked (50ms)", d)
	}
	left := q.Unhanded()
	if len(left) != 2 || left[0].Msg.Value != "c" || left[1].Msg.Value != "d" {
		t.Fatalf("Unhanded = %v, want c and d", left)
	}
}

func TestWaitTimesOut(t *testing.T) {
	q := brokersrc.New[string, *msg]("test source", 1)
	put(t, q, "a")
	if _, _, err := q.Recv(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	q.Wait(30 * time.Millisecond) // never acked
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("Wait returned after %v, before its timeout", d)
	}
}

func TestRecvCanceled(t *testing.T) {
	q := brokersrc.New[string, *msg]("test source", 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := q.Recv(ctx); !errors.Is(err, context.Canceled) || err.Error() != "test source: context canceled" {
		t.Fatalf("Recv with a done ctx: %v", err)
	}
}
