// Package handoff passes messages from a source's reading goroutines to its
// Recv and RecvBatch callers in whole batches: a reader fills a [Batch]
// and hands it over in one channel operation, and each message is copied
// once, into the receiver's slice. It is for sources whose messages need no
// ack (the receivers get [sluice.Noop]); a source that acks per message
// uses the memory package's queue.
package handoff

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/sluicehq/sluice"
)

// Batch is what a reader fills: messages in order.
type Batch[T any] struct {
	Msgs []sluice.Message[T]
	off  int // the next message to receive
}

// Queue is a bounded FIFO of batches. Get, Put and Close are for readers,
// Recv and RecvBatch for receivers; all are safe for concurrent use. The
// messages of one reader's batches are received in the order put.
type Queue[T any] struct {
	size int
	full chan *Batch[T]
	free chan *Batch[T]
	lock chan struct{} // held by the receiver taking from cur
	cur  *Batch[T]     // the batch being received, guarded by lock
	done chan struct{} // closed by Close
	once sync.Once
}

// New returns a queue that holds up to batches batches; Get makes them
// with room for size messages (a Put batch may hold any number).
func New[T any](batches, size int) *Queue[T] {
	return &Queue[T]{size: size, full: make(chan *Batch[T], batches), free: make(chan *Batch[T], batches+1),
		lock: make(chan struct{}, 1), done: make(chan struct{})}
}

// Get returns an empty batch, with room for New's size messages.
func (q *Queue[T]) Get() *Batch[T] {
	select {
	case b := <-q.free:
		return b
	default:
		return &Batch[T]{Msgs: make([]sluice.Message[T], 0, q.size)}
	}
}

// Put queues b, blocking while the queue is full; b belongs to the queue
// from then on. An empty b is kept for reuse. It returns ctx's error if ctx
// is done first, or [sluice.ErrClosed] after Close.
func (q *Queue[T]) Put(ctx context.Context, b *Batch[T]) error {
	if len(b.Msgs) == 0 {
		q.recycle(b)
		return nil
	}
	select {
	case <-q.done:
		return fmt.Errorf("handoff: %w", sluice.ErrClosed)
	default:
	}
	select {
	case q.full <- b:
		return nil
	case <-q.done:
		return fmt.Errorf("handoff: %w", sluice.ErrClosed)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close ends the queue: receivers get what is queued, then io.EOF. Call it
// once every reader has returned; it must not run concurrently with Put.
// Close is idempotent.
func (q *Queue[T]) Close() { q.once.Do(func() { close(q.done) }) }

// Recv returns the oldest message. Its ack is [sluice.Noop].
func (q *Queue[T]) Recv(ctx context.Context) (sluice.Message[T], func(), error) {
	var m [1]sluice.Message[T]
	if _, err := q.recv(ctx, m[:]); err != nil {
		return m[0], nil, err
	}
	return m[0], sluice.Noop, nil
}

// RecvBatch is Recv for up to len(msgs) messages at once (a
// [sluice.BatchSource]): it blocks while the queue is empty, then returns
// the rest of the oldest batch, or as much of it as fits.
func (q *Queue[T]) RecvBatch(ctx context.Context, msgs []sluice.Message[T], acks []func()) (int, error) {
	n, err := q.recv(ctx, msgs)
	for i := range n {
		acks[i] = sluice.Noop
	}
	return n, err
}

func (q *Queue[T]) recv(ctx context.Context, msgs []sluice.Message[T]) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	if err := q.lockWait(ctx); err != nil {
		return 0, err
	}
	defer q.unlock()
	if q.cur == nil {
		select {
		case q.cur = <-q.full:
		default:
			select {
			case q.cur = <-q.full:
			case <-q.done:
				select {
				case q.cur = <-q.full:
				default:
					return 0, io.EOF
				}
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
	}
	n := 0
	for {
		b := q.cur
		k := copy(msgs[n:], b.Msgs[b.off:])
		n += k
		b.off += k
		if b.off < len(b.Msgs) {
			return n, nil
		}
		q.recycle(b)
		q.cur = nil
		if n == len(msgs) {
			return n, nil
		}
		select { // more without waiting?
		case q.cur = <-q.full:
		default:
			return n, nil
		}
	}
}

// recycle empties b and keeps it for Get, if there is room.
func (q *Queue[T]) recycle(b *Batch[T]) {
	clear(b.Msgs)
	b.Msgs, b.off = b.Msgs[:0], 0
	select {
	case q.free <- b:
	default:
	}
}

func (q *Queue[T]) lockWait(ctx context.Context) error {
	select {
	case q.lock <- struct{}{}:
		return nil
	default:
	}
	select {
	case q.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (q *Queue[T]) unlock() { <-q.lock }
