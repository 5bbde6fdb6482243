package handoff_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/handoff"
)

type msg = sluice.Message[[2]int] // producer, sequence number

// produce puts n messages of producer id in batches of per.
func produce(ctx context.Context, q *handoff.Queue[[2]int], id, n, per int) error {
	b := q.Get()
	for i := range n {
		b.Items = append(b.Items, [2]int{id, i})
		if len(b.Items) == per || i == n-1 {
			if err := q.Put(ctx, b); err != nil {
				return err
			}
			b = q.Get()
		}
	}
	return q.Put(ctx, b) // empty: kept for reuse
}

// Every message arrives exactly once, each producer's in order, whatever
// the batch sizes, receive sizes and number of receivers.
func TestOrderAndExactlyOnce(t *testing.T) {
	cases := []struct {
		name                        string
		producers, receivers, batch int
		recvSize                    int // 0: Recv
	}{
		{"one to one, Recv", 1, 1, 7, 0},
		{"one to one, RecvBatch smaller than a batch", 1, 1, 64, 5},
		{"one to one, RecvBatch spanning batches", 1, 1, 3, 256},
		{"many producers, one receiver", 4, 1, 16, 100},
		{"many producers, many receivers", 4, 3, 16, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const n = 5000
			q := handoff.New[[2]int](256)
			ctx := t.Context()
			var prod sync.WaitGroup
			for id := range tc.producers {
				prod.Go(func() {
					if err := produce(ctx, q, id, n, tc.batch); err != nil {
						t.Error(err)
					}
				})
			}
			go func() { prod.Wait(); q.Close() }()
			var mu sync.Mutex
			got := make([][]int, tc.producers)
			var recv sync.WaitGroup
			for range tc.receivers {
				recv.Go(func() {
					buf := make([]msg, max(tc.recvSize, 1))
					acks := make([]func(), len(buf))
					for {
						var k int
						var err error
						if tc.recvSize == 0 {
							var ack func()
							buf[0], ack, err = q.Recv(ctx)
							if err == nil && ack == nil {
								t.Error("Recv returned a nil ack")
							}
							k = 1
						} else {
							k, err = q.RecvBatch(ctx, buf, acks)
						}
						if errors.Is(err, io.EOF) {
							return
						}
						if err != nil {
							t.Error(err)
							return
						}
						if k < 1 {
							t.Error("RecvBatch returned no message and no error")
							return
						}
						mu.Lock()
						for _, m := range buf[:k] {
							got[m.Value[0]] = append(got[m.Value[0]], m.Value[1])
						}
						mu.Unlock()
					}
				})
			}
			recv.Wait()
			for id, seqs := range got {
				if len(seqs) != n {
					t.Errorf("producer %d: got %d messages, want %d", id, len(seqs), n)
				}
				if tc.receivers > 1 {
					continue // receivers interleave: order holds per receiver only
				}
				for i, s := range seqs {
					if s != i {
						t.Fatalf("producer %d: message %d is %d: out of order", id, i, s)
					}
				}
			}
		})
	}
}

func TestPutBlocksWhileFull(t *testing.T) {
	q := handoff.New[[2]int](2)
	ctx := t.Context()
	for i := range 2 {
		b := q.Get()
		b.Items = append(b.Items, [2]int{0, i})
		if err := q.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	b := q.Get()
	b.Items = append(b.Items, [2]int{0, 2})
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := q.Put(short, b); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put into a full queue: %v, want the deadline", err)
	}
	put := make(chan error, 1)
	go func() { put <- q.Put(ctx, b) }()
	if m, _, err := q.Recv(ctx); err != nil || m.Value[1] != 0 {
		t.Fatalf("Recv: %v %v", m.Value, err)
	}
	if err := <-put; err != nil {
		t.Fatalf("Put once there was room: %v", err)
	}
}

func TestRecvWaitsAndCancels(t *testing.T) {
	q := handoff.New[[2]int](2)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := q.Recv(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Recv on an empty queue: %v, want the deadline", err)
	}
	if _, err := q.RecvBatch(ctx, make([]msg, 4), make([]func(), 4)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RecvBatch on an empty queue: %v, want the deadline", err)
	}
	// A receiver waiting for a batch gets it once put.
	got := make(chan int, 1)
	go func() {
		m, _, err := q.Recv(t.Context())
		if err != nil {
			t.Error(err)
		}
		got <- m.Value[1]
	}()
	time.Sleep(10 * time.Millisecond) // let it wait
	b := q.Get()
	b.Items = append(b.Items, [2]int{0, 42})
	if err := q.Put(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	if v := <-got; v != 42 {
		t.Fatalf("got %d", v)
	}
}

func TestClose(t *testing.T) {
	q := handoff.New[[2]int](4)
	ctx := t.Context()
	b := q.Get()
	b.Items = append(b.Items, [2]int{0, 1}, [2]int{0, 2})
	if err := q.Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	q.Close()
	q.Close() // idempotent
	late := q.Get()
	late.Items = append(late.Items, [2]int{})
	if err := q.Put(ctx, late); !errors.Is(err, sluice.ErrClosed) {
		t.Errorf("Put after Close: %v, want ErrClosed", err)
	}
	buf, acks := make([]msg, 4), make([]func(), 4)
	if n, err := q.RecvBatch(ctx, buf, acks); n != 2 || err != nil || buf[1].Value[1] != 2 {
		t.Fatalf("RecvBatch after Close: %d %v, want what was queued", n, err)
	}
	for _, a := range acks[:2] {
		a() // Noop
	}
	if _, _, err := q.Recv(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv once drained: %v, want io.EOF", err)
	}
	// A receiver waiting when Close comes gets io.EOF.
	q2 := handoff.New[[2]int](4)
	done := make(chan error, 1)
	go func() { _, _, err := q2.Recv(ctx); done <- err }()
	time.Sleep(10 * time.Millisecond)
	q2.Close()
	if err := <-done; !errors.Is(err, io.EOF) {
		t.Fatalf("waiting Recv at Close: %v, want io.EOF", err)
	}
}

// The queue is bounded by messages, not batches: many one-message batches
// fit (a datagram socket's reads), and a batch larger than the limit is
// taken once the queue is empty.
func TestBoundedByMessages(t *testing.T) {
	q := handoff.New[[2]int](64)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	for i := range 64 {
		b := q.Get()
		b.Items = append(b.Items, [2]int{0, i})
		if err := q.Put(ctx, b); err != nil {
			t.Fatalf("one-message batch %d of 64: %v", i, err)
		}
	}
	big := q.Get()
	for i := range 100 {
		big.Items = append(big.Items, [2]int{1, i})
	}
	put := make(chan error, 1)
	go func() { put <- q.Put(ctx, big) }()
	buf, acks := make([]msg, 256), make([]func(), 256)
	got := 0
	for got < 164 {
		n, err := q.RecvBatch(ctx, buf, acks)
		if err != nil {
			t.Fatalf("after %d messages: %v", got, err)
		}
		if got < 64 && n > 64-got {
			t.Fatalf("the 100-message batch was queued beside 64 others (limit 64)")
		}
		got += n
	}
	if err := <-put; err != nil {
		t.Fatal(err)
	}
}

// TestGetZeroedToCapacity checks what Get promises: a batch comes back
// with every item up to its capacity zero, whether it was received
// whole, in parts, or put empty, so readers may extend Items in place.
func TestGetZeroedToCapacity(t *testing.T) {
	ctx := t.Context()
	q := handoff.New[*int](100)
	one := 1
	for round, takes := range [][]int{{8}, {3, 5}, {1, 1, 6}} {
		b := q.Get()
		for range 8 {
			b.Items = append(b.Items, &one)
		}
		if err := q.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
		for _, k := range takes {
			if n, err := q.Take(ctx, k, func([]*int) {}); n != k || err != nil {
				t.Fatalf("round %d: Take(%d) = %d, %v", round, k, n, err)
			}
		}
		e := q.Get()
		if e != b {
			t.Fatalf("round %d: Get returned a new batch, not the one emptied", round)
		}
		if len(e.Items) != 0 {
			t.Fatalf("round %d: Get returned %d items", round, len(e.Items))
		}
		for i, p := range e.Items[:cap(e.Items)] {
			if p != nil {
				t.Fatalf("round %d: item %d of the recycled batch is not zero", round, i)
			}
		}
		if err := q.Put(ctx, e); err != nil { // empty: kept for reuse
			t.Fatal(err)
		}
	}
}
