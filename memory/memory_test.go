package memory_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/memory"
	"github.com/sluicehq/sluice/sluicetest"
)

func TestConformance(t *testing.T) {
	for _, capacity := range []int{0, 1} {
		t.Run(fmt.Sprintf("capacity %d", capacity), func(t *testing.T) {
			// A queue keeps nothing across a restart: not Durable, and
			// each pair has a queue of its own.
			sluicetest.Run(t, sluicetest.Features{Ordered: true, ConcurrentRecv: true, ConcurrentSend: true, Binary: true},
				func(t *testing.T, name string) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
					q := memory.New[[]byte](capacity)
					t.Cleanup(q.Close)
					return q, q
				})
		})
	}
}

func msgs(values ...string) []sluice.Message[string] {
	out := make([]sluice.Message[string], len(values))
	for i, v := range values {
		out[i].Value = v
	}
	return out
}

// counter returns an ack that counts its calls.
func counter() (*atomic.Int32, func()) {
	var n atomic.Int32
	return &n, func() { n.Add(1) }
}

func TestQueueFIFO(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		sends    [][]string
	}{
		{"one per Send", 0, [][]string{{"a"}, {"b"}, {"c"}}},
		{"several per Send", 0, [][]string{{"a", "b"}, {"c"}, {"d", "e", "f"}}},
		{"around the ring", 3, [][]string{{"a", "b"}, {"c", "d"}, {"e", "f", "g"}, {"h"}}},
		{"Send larger than the queue", 2, [][]string{{"a", "b", "c", "d", "e"}, {"f"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := memory.New[string](tc.capacity)
			ctx := t.Context()
			var want []string
			for _, s := range tc.sends {
				want = append(want, s...)
			}
			sent := make(chan error, 1)
			go func() { // Send blocks while the queue is full
				for _, s := range tc.sends {
					if err := q.Send(ctx, nil, msgs(s...)...); err != nil {
						sent <- err
						return
					}
				}
				sent <- nil
			}()
			var got []string
			for range want {
				m, ack, err := q.Recv(ctx)
				if err != nil {
					t.Errorf("Recv after %q: %v", got, err)
					break
				}
				ack()
				got = append(got, m.Value)
			}
			if err := <-sent; err != nil {
				t.Errorf("Send: %v", err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

// TestQueueBlocks checks that Recv blocks on an empty queue and Send on a
// full one (capacity 2) until their context is done, and that a Send cut
// short is never acked.
func TestQueueBlocks(t *testing.T) {
	deadline := func(ctx context.Context) (context.Context, context.CancelFunc) {
		return context.WithTimeout(ctx, 20*time.Millisecond)
	}
	cancelSoon := func(ctx context.Context) (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithCancel(ctx)
		timer := time.AfterFunc(20*time.Millisecond, cancel)
		return ctx, func() { timer.Stop(); cancel() }
	}
	tests := []struct {
		name    string
		queued  []string
		send    []string // Send these; Recv if nil
		ctx     func(context.Context) (context.Context, context.CancelFunc)
		want    error
		wantLen int // messages in the queue after
	}{
		{"Recv on empty until deadline", nil, nil, deadline, context.DeadlineExceeded, 0},
		{"Recv on empty until cancel", nil, nil, cancelSoon, context.Canceled, 0},
		{"Send on full until deadline", []string{"a", "b"}, []string{"c"}, deadline, context.DeadlineExceeded, 2},
		{"Send on full until cancel", []string{"a", "b"}, []string{"c"}, cancelSoon, context.Canceled, 2},
		{"Send of more than fits until cancel", []string{"a"}, []string{"b", "c"}, cancelSoon, context.Canceled, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := memory.New[string](2)
			if err := q.Send(t.Context(), nil, msgs(tc.queued...)...); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := tc.ctx(t.Context())
			defer cancel()
			acked, ack := counter()
			var err error
			if tc.send != nil {
				err = q.Send(ctx, ack, msgs(tc.send...)...)
			} else {
				_, _, err = q.Recv(ctx)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("got error %v, want %v", err, tc.want)
			}
			if got := q.Len(); got != tc.wantLen {
				t.Errorf("got Len %d, want %d", got, tc.wantLen)
			}
			q.Close()
			for { // what was queued is delivered, and acking it acks no failed Send
				_, ack, err := q.Recv(t.Context())
				if err != nil {
					break
				}
				ack()
			}
			if n := acked.Load(); n != 0 {
				t.Errorf("the failed Send's ack was called %d times, want 0", n)
			}
		})
	}
}

func TestQueueClose(t *testing.T) {
	q := memory.New[string](0)
	ctx := t.Context()
	if err := q.Send(ctx, nil, msgs("a", "b")...); err != nil {
		t.Fatal(err)
	}
	q.Close()
	q.Close() // idempotent
	var got []string
	var err error
	for range 4 { // a, b, then io.EOF twice
		var m sluice.Message[string]
		if m, _, err = q.Recv(ctx); err != nil {
			got = append(got, err.Error())
		} else {
			got = append(got, m.Value)
		}
	}
	if want := []string{"a", "b", "EOF", "EOF"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if !errors.Is(err, io.EOF) {
		t.Errorf("got error %v, want io.EOF", err)
	}
}

// TestQueueAfterClose checks calls made after Close, and calls blocked
// when Close is called, which it wakes.
func TestQueueAfterClose(t *testing.T) {
	tests := []struct {
		name    string
		queued  []string // in a queue of capacity 1
		send    []string // Send these; Recv if nil
		blocked bool     // call before Close
		want    error
	}{
		{"Send", nil, []string{"a"}, false, sluice.ErrClosed},
		{"Send of no messages", nil, []string{}, false, sluice.ErrClosed},
		{"Send blocked on full", []string{"a"}, []string{"b"}, true, sluice.ErrClosed},
		{"Recv on empty", nil, nil, false, io.EOF},
		{"Recv blocked on empty", nil, nil, true, io.EOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := memory.New[string](1)
			if err := q.Send(t.Context(), nil, msgs(tc.queued...)...); err != nil {
				t.Fatal(err)
			}
			acked, ack := counter()
			call := func() error {
				if tc.send != nil {
					return q.Send(t.Context(), ack, msgs(tc.send...)...)
				}
				_, _, err := q.Recv(t.Context())
				return err
			}
			done := make(chan error, 1)
			if tc.blocked {
				go func() { done <- call() }() // Close wakes it, whether it blocks before or not
				q.Close()
			} else {
				q.Close()
				done <- call()
			}
			if err := <-done; !errors.Is(err, tc.want) {
				t.Errorf("got error %v, want %v", err, tc.want)
			}
			if n := acked.Load(); n != 0 {
				t.Errorf("ack called %d times, want 0", n)
			}
		})
	}
}

// TestQueueAck checks that a Send is acked once every one of its messages
// was acked by its receiver; a message of several sent at once counts
// once, however often it is acked.
func TestQueueAck(t *testing.T) {
	tests := []struct {
		name   string
		send   []string
		acks   []int // indexes of the messages acked, in order
		wantAt int   // the number of acks after which the Send is acked; 0 for never
	}{
		{"one message", []string{"a"}, []int{0}, 1},
		{"three, in another order", []string{"a", "b", "c"}, []int{2, 0, 1}, 3},
		{"one of three not acked", []string{"a", "b", "c"}, []int{0, 1}, 0},
		{"repeated acks count once", []string{"a", "b"}, []int{0, 0, 0, 1, 1}, 4},
		{"repeated acks of four", []string{"a", "b", "c", "d"}, []int{3, 3, 1, 1, 0, 2}, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := memory.New[string](0)
			acked, ack := counter()
			if err := q.Send(t.Context(), ack, msgs(tc.send...)...); err != nil {
				t.Fatal(err)
			}
			var recvAcks []func()
			for range tc.send {
				_, ack, err := q.Recv(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				recvAcks = append(recvAcks, ack)
			}
			for i, k := range tc.acks {
				recvAcks[k]()
				want := int32(0)
				if tc.wantAt > 0 && i+1 >= tc.wantAt {
					want = 1
				}
				if got := acked.Load(); got != want {
					t.Errorf("after %d acks %v: Send's ack called %d times, want %d", i+1, tc.acks[:i+1], got, want)
				}
			}
		})
	}
}

func TestQueueNilAck(t *testing.T) {
	q := memory.New[string](0)
	if err := q.Send(t.Context(), nil, msgs("a", "b")...); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, ack, err := q.Recv(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		ack() // must not panic
		ack()
	}
}

func Example() {
	q := memory.New[string](0)
	ctx := context.Background()
	delivered := func() { fmt.Println("delivered") }
	if err := q.Send(ctx, delivered, sluice.Message[string]{Value: "hello"}, sluice.Message[string]{Value: "world"}); err != nil {
		fmt.Println(err)
	}
	q.Close() // no more Sends; what is queued can still be received
	for {
		m, ack, err := q.Recv(ctx)
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(m.Value)
		ack() // the Send is acked with its last message
	}
	// Output:
	// hello
	// world
	// delivered
	// EOF
}

// TestRecvBatch: RecvBatch takes what the queue holds, oldest first, up
// to the room given, without waiting for more; it blocks while the queue
// is empty; after Close it returns the rest, then io.EOF; a done ctx ends
// a blocked call; each ack counts for its own message.
func TestRecvBatch(t *testing.T) {
	ctx := t.Context()
	q := memory.New[string](0)
	var acked atomic.Int64
	if err := q.Send(ctx, func() { acked.Add(1) }, msgs("a", "b", "c", "d", "e")...); err != nil {
		t.Fatal(err)
	}
	ms, acks := make([]sluice.Message[string], 3), make([]func(), 3)
	var got []string
	for _, want := range []int{3, 2} {
		n, err := q.RecvBatch(ctx, ms, acks)
		if err != nil || n != want {
			t.Fatalf("RecvBatch = %d, %v; want %d", n, err, want)
		}
		for i := range n {
			got = append(got, ms[i].Value)
			acks[i]()
			acks[i]() // a second call counts for nothing
		}
	}
	if want := []string{"a", "b", "c", "d", "e"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if acked.Load() != 1 {
		t.Errorf("the Send was acked %d times, want 1", acked.Load())
	}

	// Empty: blocks until a Send.
	res := make(chan int, 1)
	go func() {
		n, _ := q.RecvBatch(ctx, ms, acks)
		res <- n
	}()
	select {
	case n := <-res:
		t.Fatalf("RecvBatch on an empty queue returned %d", n)
	case <-time.After(20 * time.Millisecond):
	}
	if err := q.Send(ctx, nil, msgs("f")...); err != nil {
		t.Fatal(err)
	}
	if n := <-res; n != 1 || ms[0].Value != "f" {
		t.Fatalf("after a Send: %d, %q", n, ms[0].Value)
	}

	// A done ctx ends a blocked call.
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if n, err := q.RecvBatch(cctx, ms, acks); n != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with a done ctx: %d, %v", n, err)
	}

	// Close: the rest, then io.EOF.
	if err := q.Send(ctx, nil, msgs("g")...); err != nil {
		t.Fatal(err)
	}
	q.Close()
	if n, err := q.RecvBatch(ctx, ms, acks); n != 1 || err != nil || ms[0].Value != "g" {
		t.Fatalf("after Close: %d, %v", n, err)
	}
	if n, err := q.RecvBatch(ctx, ms, acks); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("drained after Close: %d, %v, want io.EOF", n, err)
	}
}
