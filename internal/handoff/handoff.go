// Package handoff passes items from a source's reading goroutines to its
// Recv and RecvBatch callers in whole batches: a reader fills a [Batch]
// and hands it over in one channel operation, and each item is copied
// once, into the receiver's slice (or read in place by [Queue.Take]). It
// is for sources whose messages need no ack (the receivers get
// [sluice.Noop]); a source that acks per message uses the memory
// package's queue. The items need not be the messages the source
// returns: a source may queue less than a whole message (what its
// readers produced) and build each message from it in Take, so that
// less is copied from batch to batch.
package handoff

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/sluicehq/sluice"
)

// Batch is what a reader fills: items in order.
type Batch[T any] struct {
	Items []T
	off   int // the next item to receive
}

// freeBatches is how many emptied batches a queue keeps for Get.
const freeBatches = 64

// Queue is a FIFO of batches, bounded by the messages they hold. Get, Put
// and Close are for readers, Recv and RecvBatch for receivers; all are
// safe for concurrent use. The messages of one reader's batches are
// received in the order put.
type Queue[T any] struct {
	max     int64
	n       atomic.Int64  // messages put and not yet received
	waiting atomic.Int32  // Puts waiting for room
	room    chan struct{} // capacity 1: wakes a waiting Put
	full    chan *Batch[T]
	free    chan *Batch[T]
	lock    chan struct{} // held by the receiver taking from cur
	cur     *Batch[T]     // the batch being received, guarded by lock
	done    chan struct{} // closed by Close
	once    sync.Once
}

// New returns a queue that holds up to limit messages (at least 1),
// however they are batched; a batch larger than limit is taken when the
// queue is empty.
func New[T any](limit int) *Queue[T] {
	limit = max(limit, 1)
	return &Queue[T]{max: int64(limit), room: make(chan struct{}, 1), full: make(chan *Batch[T], limit),
		free: make(chan *Batch[T], freeBatches), lock: make(chan struct{}, 1), done: make(chan struct{})}
}

// Get returns an empty batch: one emptied earlier, or a new one (its Items
// grow as appended to, so that a queue of small batches stays small).
// Every item of Items[:cap(Items)] is the zero T, so a reader may extend
// Items within its capacity instead of appending a zero T.
func (q *Queue[T]) Get() *Batch[T] {
	select {
	case b := <-q.free:
		return b
	default:
		return &Batch[T]{}
	}
}

// Put queues b, blocking while the queue has no room for it; b belongs to
// the queue from then on. An empty b is kept for reuse. It returns ctx's
// error if ctx is done first, or [sluice.ErrClosed] after Close.
func (q *Queue[T]) Put(ctx context.Context, b *Batch[T]) error {
	k := int64(len(b.Items))
	if k == 0 {
		q.recycle(b)
		return nil
	}
	for {
		select {
		case <-q.done:
			return fmt.Errorf("handoff: %w", sluice.ErrClosed)
		default:
		}
		if q.reserve(k) {
			q.full <- b // never blocks: it holds up to max batches of at least one message
			return nil
		}
		q.waiting.Add(1)
		if q.reserve(k) { // room made before this Put counted as waiting
			q.waiting.Add(-1)
			q.full <- b
			return nil
		}
		select {
		case <-q.room:
			q.waiting.Add(-1)
		case <-q.done:
			q.waiting.Add(-1)
			return fmt.Errorf("handoff: %w", sluice.ErrClosed)
		case <-ctx.Done():
			q.waiting.Add(-1)
			return ctx.Err()
		}
	}
}

// reserve counts k more messages if they fit, or if the queue is empty.
func (q *Queue[T]) reserve(k int64) bool {
	for {
		n := q.n.Load()
		if n > 0 && n+k > q.max {
			return false
		}
		if q.n.CompareAndSwap(n, n+k) {
			return true
		}
	}
}

// Len returns how many messages are queued and not yet received.
func (q *Queue[T]) Len() int { return int(q.n.Load()) }

// Blocked reports whether a Put is waiting for room: the queue is full
// and its readers are pushed back.
func (q *Queue[T]) Blocked() bool { return q.waiting.Load() > 0 }

// Close ends the queue: receivers get what is queued, then io.EOF. Call it
// once every reader has returned; it must not run concurrently with Put.
// Close is idempotent.
func (q *Queue[T]) Close() { q.once.Do(func() { close(q.done) }) }

// Recv returns the oldest item as a message. Its ack is [sluice.Noop].
func (q *Queue[T]) Recv(ctx context.Context) (sluice.Message[T], func(), error) {
	var m sluice.Message[T]
	if _, err := q.Take(ctx, 1, func(items []T) { m.Value = items[0] }); err != nil {
		return m, nil, err
	}
	return m, sluice.Noop, nil
}

// RecvBatch is Recv for up to len(msgs) items at once (a
// [sluice.BatchSource]): it blocks while the queue is empty, then returns
// the rest of the oldest batch and of the batches after it, as many as
// are queued and fit.
func (q *Queue[T]) RecvBatch(ctx context.Context, msgs []sluice.Message[T], acks []func()) (int, error) {
	n := 0
	_, err := q.Take(ctx, len(msgs), func(items []T) {
		for i := range items {
			msgs[n] = sluice.Message[T]{Value: items[i]}
			acks[n] = sluice.Noop
			n++
		}
	})
	return n, err
}

// Take receives up to most items as RecvBatch does, handing them to f in
// order, in one or more runs, and returns how many it took. f reads them
// in place: it must not keep the slice, nor anything in it that the
// queue's batches reuse. f runs while the queue is locked for receivers,
// so it should do no more than turn each item into what the caller
// returns.
func (q *Queue[T]) Take(ctx context.Context, most int, f func(items []T)) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if most <= 0 {
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
	defer func() { q.took(n) }()
	for {
		b := q.cur
		k := min(most-n, len(b.Items)-b.off)
		f(b.Items[b.off : b.off+k])
		n += k
		b.off += k
		if b.off < len(b.Items) {
			return n, nil
		}
		q.recycle(b)
		q.cur = nil
		if n == most {
			return n, nil
		}
		select { // more without waiting?
		case q.cur = <-q.full:
		default:
			return n, nil
		}
	}
}

// took uncounts n received messages and wakes a Put waiting for room.
func (q *Queue[T]) took(n int) {
	q.n.Add(-int64(n))
	if q.waiting.Load() > 0 {
		select {
		case q.room <- struct{}{}:
		default:
		}
	}
}

// recycle empties b and keeps it for Get, if there is room.
func (q *Queue[T]) recycle(b *Batch[T]) {
	clear(b.Items)
	b.Items, b.off = b.Items[:0], 0
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
