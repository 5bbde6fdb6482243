// Package memory provides an in-memory queue that is both a
// [sluice.Source] and a [sluice.Destination], for tests and in-process
// pipelines.
//
// A [Queue] holds messages in order. Send appends them, blocking while the
// queue is full; Recv takes the oldest, blocking while it is empty. The ack
// that Recv returns is the one given to Send, so acks flow from the
// consumer back to the producer: a Send of n messages is acked when all n
// were acked by whoever received them. Nothing is durable: messages in the
// queue are lost when the process exits.
package memory

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/sluicehq/sluice"
)

// DefaultCapacity is the capacity [New] uses for a capacity below 1.
const DefaultCapacity = 1024

// Queue is a bounded FIFO of messages. Send and Recv are safe for
// concurrent use by any number of goroutines. The zero value is not usable;
// create one with [New].
type Queue[T any] struct {
	mu       sync.Mutex
	ring     []item[T]
	head, n  int
	closed   bool
	recvWait int           // goroutines blocked in Recv
	sendWait int           // goroutines blocked in Send
	notEmpty chan struct{} // capacity 1: wakes one blocked Recv
	notFull  chan struct{} // capacity 1: wakes one blocked Send
	done     chan struct{} // closed by Close
}

type item[T any] struct {
	msg sluice.Message[T]
	ack func()
}

// New returns an empty queue that holds up to capacity messages, or
// [DefaultCapacity] if capacity < 1.
func New[T any](capacity int) *Queue[T] {
	if capacity < 1 {
		capacity = DefaultCapacity
	}
	return &Queue[T]{
		ring:     make([]item[T], capacity),
		notEmpty: make(chan struct{}, 1),
		notFull:  make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
}

// Send appends msgs to the queue in order, blocking while it is full. ack
// is called when every message of this call has been acked by its
// receiver. If ctx is done before every message is queued, Send returns
// ctx's error and ack is never called; the messages already queued are
// still delivered. After [Queue.Close], Send returns [sluice.ErrClosed].
func (q *Queue[T]) Send(ctx context.Context, ack func(), msgs ...sluice.Message[T]) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: send: %w", err)
	}
	if len(msgs) == 0 {
		q.mu.Lock()
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return fmt.Errorf("memory: send: %w", sluice.ErrClosed)
		}
		sluice.Ack(ack)
		return nil
	}
	// Each message gets its own once-only ack: a receiver that acks a
	// message twice must neither ack the sender twice nor count for
	// another message of the same Send. For a message sent alone this
	// costs nothing when the sender's ack is once-only already (an ack
	// from another Queue, or any [sluice.AckOnce]).
	var one, shared func()
	switch {
	case ack == nil:
		one = sluice.NoopAck
	case len(msgs) == 1:
		one = sluice.AckOnce(ack)
	default:
		shared = sluice.AckCountdown(len(msgs), ack)
	}
	return q.put(ctx, msgs, func(int) func() {
		if shared != nil {
			return sluice.AckOnce(shared)
		}
		return one
	})
}

// SendBatch appends msgs to the queue in order, blocking while it is full,
// each with its own ack (see [sluice.BatchDestination]): the receiver of
// msgs[i] acks it with acks[i], guarded so that a repeated ack has no
// further effect (free for an ack from another Queue, once-only already).
// If ctx is done before every message is queued, SendBatch returns ctx's
// error; the messages already queued are still delivered, and acked by
// their receiver. After [Queue.Close], it returns [sluice.ErrClosed].
func (q *Queue[T]) SendBatch(ctx context.Context, msgs []sluice.Message[T], acks []func()) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: send: %w", err)
	}
	if len(acks) < len(msgs) {
		return fmt.Errorf("memory: send: %d acks for %d messages", len(acks), len(msgs))
	}
	if len(msgs) == 0 {
		q.mu.Lock()
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return fmt.Errorf("memory: send: %w", sluice.ErrClosed)
		}
		return nil
	}
	return q.put(ctx, msgs, func(i int) func() { return sluice.AckOnce(acks[i]) })
}

// put queues msgs in order, blocking while the queue is full; ackOf(i)
// returns the ack msgs[i] is queued with.
func (q *Queue[T]) put(ctx context.Context, msgs []sluice.Message[T], ackOf func(i int) func()) error {
	for i := 0; i < len(msgs); {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return fmt.Errorf("memory: send: %w", sluice.ErrClosed)
		}
		if q.n == len(q.ring) {
			q.sendWait++
			q.mu.Unlock()
			err := q.wait(ctx, q.notFull)
			q.mu.Lock()
			q.sendWait--
			q.mu.Unlock()
			if err != nil {
				return fmt.Errorf("memory: send: %w", err)
			}
			continue
		}
		for ; i < len(msgs) && q.n < len(q.ring); i++ {
			q.ring[(q.head+q.n)%len(q.ring)] = item[T]{msgs[i], ackOf(i)}
			q.n++
		}
		if q.recvWait > 0 {
			signal(q.notEmpty)
		}
		if q.n < len(q.ring) && q.sendWait > 0 {
			signal(q.notFull) // pass the wake-up on
		}
		q.mu.Unlock()
	}
	return nil
}

// Recv returns the oldest message and its ack, blocking while the queue is
// empty. The ack counts once toward its Send's ack however often it is
// called. After [Queue.Close], Recv returns what is left, then io.EOF.
func (q *Queue[T]) Recv(ctx context.Context) (sluice.Message[T], func(), error) {
	if err := ctx.Err(); err != nil {
		return sluice.Message[T]{}, nil, fmt.Errorf("memory: recv: %w", err)
	}
	if err := q.lockNonEmpty(ctx); err != nil {
		return sluice.Message[T]{}, nil, err
	}
	it := q.ring[q.head]
	q.ring[q.head] = item[T]{}
	q.head = (q.head + 1) % len(q.ring)
	q.n--
	q.tookLocked()
	q.mu.Unlock()
	return it.msg, it.ack, nil
}

// RecvBatch is Recv for up to len(msgs) messages at once (see
// [sluice.BatchSource]): it blocks while the queue is empty, then takes
// what the queue holds, oldest first, under one lock.
func (q *Queue[T]) RecvBatch(ctx context.Context, msgs []sluice.Message[T], acks []func()) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memory: recv: %w", err)
	}
	if err := q.lockNonEmpty(ctx); err != nil {
		return 0, err
	}
	n := min(len(msgs), q.n)
	for i := range n {
		it := &q.ring[q.head]
		msgs[i], acks[i] = it.msg, it.ack
		*it = item[T]{}
		q.head = (q.head + 1) % len(q.ring)
	}
	q.n -= n
	q.tookLocked()
	q.mu.Unlock()
	return n, nil
}

// lockNonEmpty locks q and waits until it holds a message. It returns nil
// with q.mu held, or, with q.mu released, io.EOF once the queue is closed
// and empty, or ctx's error.
func (q *Queue[T]) lockNonEmpty(ctx context.Context) error {
	q.mu.Lock()
	for q.n == 0 {
		if q.closed {
			q.mu.Unlock()
			return io.EOF
		}
		q.recvWait++
		q.mu.Unlock()
		err := q.wait(ctx, q.notEmpty)
		q.mu.Lock()
		q.recvWait--
		if err != nil {
			q.mu.Unlock()
			return fmt.Errorf("memory: recv: %w", err)
		}
	}
	return nil
}

// tookLocked wakes a blocked sender now that there is room, and passes a
// wake-up on to another receiver if messages are left. q.mu must be held.
func (q *Queue[T]) tookLocked() {
	if q.sendWait > 0 {
		signal(q.notFull)
	}
	if q.n > 0 && q.recvWait > 0 {
		signal(q.notEmpty)
	}
}

// Len returns the number of messages in the queue.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// Close stops the queue taking messages. Recv returns what is left, then
// io.EOF. Close is idempotent.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.done)
	}
}

// wait blocks until ch is signalled, the queue is closed or ctx is done.
func (q *Queue[T]) wait(ctx context.Context, ch chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-q.done:
		return nil // the caller sees closed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

var (
	_ sluice.BatchSource[[]byte]      = (*Queue[[]byte])(nil)
	_ sluice.BatchDestination[[]byte] = (*Queue[[]byte])(nil)
)
