package batch

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/sluicehq/sluice"
)

// Encoder appends the encoding of *m to b and returns the extended slice,
// as the append functions of strconv do. It must not keep m.
type Encoder[T any] func(b []byte, m *sluice.Message[T]) []byte

// BytesFlusher writes one batch of encoded messages somewhere durable:
// b holds the encodings of len(ends) messages, back to back, in the order
// sent; message i ends at ends[i] (and starts where message i-1 ends, or
// at 0). It follows the rules of [Flusher]: nil once all of b is written,
// errors marked [sluice.Retryable] retried, return promptly when ctx is
// done, safe for concurrent use when Parallelism is above 1. It must not
// modify b or ends, or keep them after it returns: the [Destination]
// reuses them.
type BytesFlusher interface {
	FlushBytes(ctx context.Context, b []byte, ends []int) error
}

// FlushBytesFunc adapts an ordinary function to a [BytesFlusher].
type FlushBytesFunc func(ctx context.Context, b []byte, ends []int) error

// FlushBytes calls f(ctx, b, ends).
func (f FlushBytesFunc) FlushBytes(ctx context.Context, b []byte, ends []int) error {
	return f(ctx, b, ends)
}

// NewEncoded returns a Destination whose batches hold messages already
// encoded: Send encodes each message with enc, in the caller's goroutine
// and outside the destination's lock, and a batch is the encodings back
// to back, handed to f. Batches are then plain bytes, reused from flush
// to flush: the messages themselves are not kept, so nothing they point
// to stays alive while a batch waits, and the garbage collector has
// nothing in them to scan. Config.Bytes counts encoded bytes (exactly, so
// [WithSize] does not apply). Everything else is as with [New], except
// that a batch that failed cannot go to a dead letter, which takes
// messages: [WithDeadLetter] is an error.
func NewEncoded[T any](c Config, enc Encoder[T], f BytesFlusher, opts ...Option[T]) (*Destination[T], error) {
	d, errs := newDestination(c, opts)
	d.enc, d.fb = enc, f
	if enc == nil {
		errs = append(errs, errors.New("encoder is nil"))
	}
	if ff, ok := f.(FlushBytesFunc); f == nil || ok && ff == nil {
		errs = append(errs, errors.New("flusher is nil"))
	}
	if d.o.deadLetter != nil {
		errs = append(errs, errors.New("a dead letter needs the messages: use New"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("batch: new: %w", err)
	}
	return d, nil
}

// encoded is what one Send encoded: the messages' encodings back to back,
// and where each ends.
type encoded struct {
	buf  []byte
	ends []int
}

// encode returns msgs encoded, in a scratch to give back with release.
func (d *Destination[T]) encode(msgs []sluice.Message[T]) *encoded {
	e, _ := d.scratch.Get().(*encoded)
	if e == nil {
		e = new(encoded)
	}
	e.buf, e.ends = e.buf[:0], e.ends[:0]
	for i := range msgs {
		e.buf = d.enc(e.buf, &msgs[i])
		e.ends = append(e.ends, len(e.buf))
	}
	return e
}

// release keeps e for a later Send.
func (d *Destination[T]) release(e *encoded) {
	if e != nil {
		d.scratch.Put(e)
	}
}

// SendEncoded is Send for messages the caller has encoded already: b
// holds the encodings of len(ends) messages back to back, each as the
// Encoder would make it, message i ending at ends[i] (so ends rises, and
// its last is len(b)). It is for callers that have the encodings at hand
// without the messages, such as a source's runs of raw lines (see the
// daemon's LineDestination), and for a Destination made by NewEncoded
// only. Batches, acks and errors are as for Send; it copies b and ends
// and keeps neither.
func (d *Destination[T]) SendEncoded(ctx context.Context, ack func(), b []byte, ends []int) error {
	switch {
	case d.enc == nil:
		return errors.New("batch: send encoded: the destination was not made by NewEncoded")
	case len(ends) > 0 && ends[len(ends)-1] != len(b):
		return fmt.Errorf("batch: send encoded: the last message ends at %d, not at the end of the bytes (%d)", ends[len(ends)-1], len(b))
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("batch: send: %w", err)
	}
	return d.send(ctx, ack, len(ends), nil, &encoded{buf: b, ends: ends})
}

// fillEncoded is fill for the encodings e: it takes them a batch at a
// time, not one by one, finding from e.ends how many fit, and cuts
// where fill would. d.mu must be held.
func (d *Destination[T]) fillEncoded(e *encoded, ack func(), add bool) (cuts, touched int) {
	limit, count := d.cfg.Bytes, len(e.ends)
	n, size := 0, 0
	if d.cur != nil {
		n, size = d.cur.len(), d.cur.size
	}
	for i := 0; i < count; {
		start := 0
		if i > 0 {
			start = e.ends[i-1]
		}
		// m messages from i go into the current batch: as many as Count
		// leaves room for, and of those up to the one that fills limit,
		// or up to the one that would pass it.
		m := min(count-i, max(d.cfg.Count-n, 0))
		if limit > 0 && m > 0 && size+e.ends[i+m-1]-start >= limit {
			k := sort.Search(m, func(k int) bool { return size+e.ends[i+k]-start >= limit })
			if m = k; size+e.ends[i+k]-start == limit {
				m = k + 1
			}
		}
		if m == 0 && n == 0 {
			m = 1 // larger than limit: a batch by itself
		}
		if m > 0 {
			taken := e.ends[i+m-1] - start
			if add {
				b := d.curLocked()
				if ack != nil {
					b.acks = append(b.acks, ack)
				}
				b.size += taken
				b.appendEncoded(e, i, i+m)
			}
			n, size, i = n+m, size+taken, i+m
			touched++
		}
		// Cut when full, or when the next message does not fit.
		if n >= d.cfg.Count || limit > 0 && size >= limit || i < count {
			cuts++
			if add {
				d.cutLocked()
			}
			n, size = 0, 0
		}
	}
	return cuts, touched
}

// appendEncoded appends the encodings of messages from to to-1 of e.
func (b *batch[T]) appendEncoded(e *encoded, from, to int) {
	start := 0
	if from > 0 {
		start = e.ends[from-1]
	}
	base := len(b.buf) - start
	b.buf = append(b.buf, e.buf[start:e.ends[to-1]]...)
	for _, end := range e.ends[from:to] {
		b.ends = append(b.ends, base+end)
	}
}

// size returns the length of the encoding of message i.
func (e *encoded) size(i int) int {
	if i == 0 {
		return e.ends[0]
	}
	return e.ends[i] - e.ends[i-1]
}
