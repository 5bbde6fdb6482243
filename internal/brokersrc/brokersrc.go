// Package brokersrc is what the broker sources (mqtt, nats) share between
// the goroutine that takes messages from the broker and the callers of
// Recv and RecvBatch: a bounded queue of deliveries, a stop after which
// Recv returns io.EOF, and a count of the messages handed out and not yet
// acked, so that a stopping source can wait for their acks before it
// closes the connection they must go out on.
//
// How and in which order a source acknowledges messages to its broker is
// the source's own business: it calls [Queue.Acked] once, from the first
// call of a message's ack.
package brokersrc

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
)

// Delivery is a message received from the broker and its ack. A source
// queues a *Delivery, or a type of its own that embeds one.
type Delivery[T any] struct {
	Msg sluice.Message[T]
	// Ack is what the receiver gets with Msg. It must tolerate repeated
	// calls and call [Queue.Acked] on the first.
	Ack    func()
	handed atomic.Bool // Recv returned it
}

func (d *Delivery[T]) delivery() *Delivery[T] { return d }

// Item is a *Delivery or a pointer to a type that embeds a Delivery.
type Item[T any] interface{ delivery() *Delivery[T] }

// Queue passes deliveries of type I to Recv and RecvBatch, in the order
// put. All its methods are safe for concurrent use.
type Queue[T any, I Item[T]] struct {
	name     string // for errors: "mqtt source"
	out      chan I
	stopping chan struct{}
	stop     sync.Once
	handed   atomic.Int64 // handed out by Recv and not acked
}

// New returns a queue with room for limit deliveries; name starts the
// errors Recv returns.
func New[T any, I Item[T]](name string, limit int) *Queue[T, I] {
	return &Queue[T, I]{name: name, out: make(chan I, max(limit, 1)), stopping: make(chan struct{})}
}

// Put queues d, blocking while the queue is full. It reports false, with
// d not queued, if ctx is done first.
func (q *Queue[T, I]) Put(ctx context.Context, d I) bool {
	select {
	case q.out <- d:
		return true
	default:
	}
	select {
	case q.out <- d:
		return true
	case <-ctx.Done():
		return false
	}
}

// Stop makes Recv and RecvBatch return io.EOF from now on; what is still
// queued is left for [Queue.Unhanded]. Stop is idempotent.
func (q *Queue[T, I]) Stop() { q.stop.Do(func() { close(q.stopping) }) }

// Acked records that d's ack was called for the first time.
func (q *Queue[T, I]) Acked(d I) {
	if d.delivery().handed.Load() {
		q.handed.Add(-1)
	}
}

// Wait waits up to timeout until every delivery Recv handed out was acked.
func (q *Queue[T, I]) Wait(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for q.handed.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// Unhanded takes the deliveries still queued, never handed out, oldest
// first; call it after Stop.
func (q *Queue[T, I]) Unhanded() []I {
	var left []I
	for {
		select {
		case d := <-q.out:
			left = append(left, d)
		default:
			return left
		}
	}
}

// hand marks d as handed out.
func (q *Queue[T, I]) hand(d I) (sluice.Message[T], func()) {
	q.handed.Add(1)
	b := d.delivery()
	b.handed.Store(true)
	return b.Msg, b.Ack
}

// Recv returns the oldest delivery's message and ack. It blocks until
// one is queued or ctx is done; after Stop it returns io.EOF.
func (q *Queue[T, I]) Recv(ctx context.Context) (sluice.Message[T], func(), error) {
	if err := ctx.Err(); err != nil {
		return sluice.Message[T]{}, nil, fmt.Errorf("%s: %w", q.name, err)
	}
	select {
	case <-q.stopping:
		return sluice.Message[T]{}, nil, io.EOF
	default:
	}
	select {
	case d := <-q.out:
		m, ack := q.hand(d)
		return m, ack, nil
	case <-q.stopping:
		return sluice.Message[T]{}, nil, io.EOF
	case <-ctx.Done():
		return sluice.Message[T]{}, nil, fmt.Errorf("%s: %w", q.name, ctx.Err())
	}
}

// RecvBatch returns up to len(msgs) deliveries that are already queued,
// blocking as Recv does for the first.
func (q *Queue[T, I]) RecvBatch(ctx context.Context, msgs []sluice.Message[T], acks []func()) (int, error) {
	m, ack, err := q.Recv(ctx)
	if err != nil {
		return 0, err
	}
	msgs[0], acks[0] = m, ack
	n := 1
	for n < len(msgs) {
		select {
		case d := <-q.out:
			msgs[n], acks[n] = q.hand(d)
			n++
		default:
			return n, nil
		}
	}
	return n, nil
}
