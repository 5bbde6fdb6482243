package batch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/sluicehq/sluice"
)

// Encoder appends the encoding of *m to b and returns the extended slice,
// as the append functions of strconv do. It must not keep m. Send calls
// it with the Destination's lock held when no other goroutine holds it
// (so that it appends straight to the batch), so it must not call the
// Destination, and should not block.
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
// (straight into the batch when the destination's lock is free, else
// outside it, copied in after), and a batch is the encodings back to
// back, handed to f. Batches are then plain bytes, reused from flush
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
				b.appendEncoded(e, i, i+m, limit)
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

// appendEncoded appends the encodings of messages from to to-1 of e;
// limit is Config.Bytes.
func (b *batch[T]) appendEncoded(e *encoded, from, to, limit int) {
	start := 0
	if from > 0 {
		start = e.ends[from-1]
	}
	base := len(b.buf) - start
	b.grow(e.ends[to-1]-start, limit)
	b.buf = append(b.buf, e.buf[start:e.ends[to-1]]...)
	for _, end := range e.ends[from:to] {
		b.ends = append(b.ends, base+end)
	}
}

// encodedRoom is the room made in a batch's bytes before a message is
// encoded into them: most encodings fit, so the encoder's append seldom
// grows the bytes itself.
const encodedRoom = 4 << 10

// grow makes room in b.buf for n more bytes. When it must grow, it at
// least doubles b.buf, up to limit (Config.Bytes, if set) plus n: append
// grows a large slice by about 1.25×, which made a 6 MB batch allocate
// about five times its size before it settled (the buffers are then
// reused from flush to flush).
func (b *batch[T]) grow(n, limit int) {
	if cap(b.buf)-len(b.buf) < n {
		b.growSlow(n, limit)
	}
}

// growSlow is grow when b.buf has not the room: apart, so that grow's
// test is inlined.
//
//go:noinline
func (b *batch[T]) growSlow(n, limit int) {
	c := max(2*cap(b.buf), len(b.buf)+n)
	if limit > 0 {
		c = min(c, max(limit, len(b.buf))+n)
	}
	b.buf = slices.Grow(b.buf, c-len(b.buf))
}

// size returns the length of the encoding of message i.
func (e *encoded) size(i int) int {
	if i == 0 {
		return e.ends[0]
	}
	return e.ends[i] - e.ends[i-1]
}

// sendInPlaceLocked is Send for a destination made by NewEncoded, called
// with d.mu held (it unlocks it): each message is encoded straight into
// the batch that takes it, so its bytes are written once, and batches are
// cut as fill cuts them. When every flush slot is busy, it first waits,
// as send does, while msgs would fill the current batch by count; should
// they then fill it by bytes, which only their encodings tell, what is
// encoded goes back out of the batch and send takes over, with the rest
// encoded outside the lock.
func (d *Destination[T]) sendInPlaceLocked(ctx context.Context, ack func(), msgs []sluice.Message[T]) error {
	for {
		if d.closed {
			err := d.closedErrLocked()
			d.mu.Unlock()
			return err
		}
		free := d.pending < d.cfg.Parallelism
		held := 0
		if d.cur != nil {
			held = d.cur.len()
		}
		if free || held+len(msgs) < d.cfg.Count {
			break
		}
		if err := d.waitRoomLocked(ctx); err != nil {
			return err
		}
	}
	if e := d.encodeLocked(ack, msgs, d.pending < d.cfg.Parallelism); e != nil {
		d.mu.Unlock()
		defer d.release(e)
		for i := len(e.ends); i < len(msgs); i++ {
			e.buf = d.enc(e.buf, &msgs[i])
			e.ends = append(e.ends, len(e.buf))
		}
		return d.send(ctx, ack, len(msgs), msgs, e)
	}
	d.cutIfIdleLocked()
	d.mu.Unlock()
	return nil
}

// encodeLocked encodes msgs into the current batch, cutting it as fill
// does, and attaches ack to every batch that receives one of them. With
// free false (no flush slot is free, and msgs do not fill the batch by
// count), a cut by bytes must wait for room: then nothing is added, and
// the encodings made so far are returned in a scratch (give it back with
// release), for send. d.mu must be held.
func (d *Destination[T]) encodeLocked(ack func(), msgs []sluice.Message[T], free bool) *encoded {
	limit := d.cfg.Bytes
	b := d.cur
	created := b == nil
	var buf0, ends0, size0 int
	if !created {
		buf0, ends0, size0 = len(b.buf), len(b.ends), b.size
	}
	touched := d.touched[:0]
	for i := range msgs {
		b = d.curLocked()
		b.grow(encodedRoom, limit)
		at := len(b.buf)
		b.buf = d.enc(b.buf, &msgs[i])
		s := len(b.buf) - at
		if len(b.ends) > 0 && limit > 0 && s > limit-b.size { // no room: cut first
			if !free {
				b.ends = append(b.ends, len(b.buf))
				d.touched = touched[:0]
				return d.spillLocked(b, created, buf0, ends0, size0)
			}
			tail := b.buf[at:] // still b's until b is flushed, after d.mu is let go
			b.buf = b.buf[:at]
			d.cutLocked()
			b = d.curLocked()
			b.buf = append(b.buf, tail...)
		}
		if len(touched) == 0 || touched[len(touched)-1] != b {
			touched = append(touched, b)
		}
		b.ends = append(b.ends, len(b.buf))
		b.size += s
		if len(b.ends) >= d.cfg.Count || limit > 0 && b.size >= limit {
			if !free { // by bytes: the caller ruled out a cut by count
				d.touched = touched[:0]
				return d.spillLocked(b, created, buf0, ends0, size0)
			}
			d.cutLocked()
		}
	}
	if ack != nil {
		if len(touched) > 1 {
			ack = sluice.AckAfter(len(touched), ack)
		}
		for _, t := range touched {
			t.acks = append(t.acks, ack)
		}
	}
	d.touched = touched[:0]
	return nil
}

// spillLocked takes what encodeLocked added to b, the current batch
// (new if created, else holding buf0 bytes, ends0 messages and size0
// before), back out of it, and returns it in a scratch. d.mu must be
// held.
func (d *Destination[T]) spillLocked(b *batch[T], created bool, buf0, ends0, size0 int) *encoded {
	e, _ := d.scratch.Get().(*encoded)
	if e == nil {
		e = new(encoded)
	}
	e.buf = append(e.buf[:0], b.buf[buf0:]...)
	e.ends = e.ends[:0]
	for _, end := range b.ends[ends0:] {
		e.ends = append(e.ends, end-buf0)
	}
	b.buf, b.ends, b.size = b.buf[:buf0], b.ends[:ends0], size0
	if created {
		d.cur = nil
		d.free = append(d.free, b)
	}
	return e
}
