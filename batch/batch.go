// Package batch provides a [sluice.Destination] that buffers messages and
// hands them to a [Flusher] in batches, cut by count, by bytes and by age.
//
// A [Destination] is also a [sluice.Runner]: its flushes run inside Run,
// which a [sluice.Processor] calls for as long as it runs. Up to
// Config.Parallelism flushes are in flight at once; when they are all
// busy, a Send that would fill a further batch blocks until one finishes
// (back-pressure). A failed flush whose error is retryable is retried with
// exponential back-off (Config.Retry).
//
// # Acknowledgement
//
// The ack given to Send is called once every message of that Send has
// been flushed successfully, whether they went out in one batch or were
// spread over several. A Send that returns an error has accepted none of
// its messages, and its ack is never called. Messages that could not be
// flushed before Run stopped are never acked, so a durable source
// delivers them again.
package batch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
)

// Destination buffers messages and flushes them in batches. Create one
// with [New]; its Send is safe for concurrent use by any number of
// goroutines, and nothing is flushed unless [Destination.Run] runs.
type Destination[T any] struct {
	cfg Config
	f   Flusher[T]
	enc Encoder[T]   // set by NewEncoded, with fb instead of f
	fb  BytesFlusher // set by NewEncoded
	o   options[T]
	// scratch holds *encoded for Sends of a NewEncoded destination.
	scratch sync.Pool
	size    func(*sluice.Message[T]) int // nil when Config.Bytes is 0
	ran     atomic.Bool
	arm     chan struct{} // capacity 1: wakes the Run loop to look at the age timer
	// onWake, if set by a test, is called each time the Run loop wakes.
	onWake func()

	// mu guards every field below it. It is the only lock, and it is
	// never held while calling a Flusher, an ack, the dead letter or a
	// logger (an Encoder may run under it: see sendInPlaceLocked).
	mu       sync.Mutex
	work     sync.Cond     // L is &mu; signalled when a batch is queued or the state changes
	cur      *batch[T]     // the batch being filled; nil when there is none
	queue    []*batch[T]   // cut batches waiting for a worker, oldest first
	free     []*batch[T]   // flushed batches, for reuse
	bufCap   int           // the largest room of a cut batch's bytes: a new one starts with it
	pending  int           // batches cut and not yet done: queued or in flight
	room     chan struct{} // closed when pending drops or the state changes; nil if no Send waits
	armed    bool          // the Run loop has the age timer set, or an arm signal is on its way
	closed   bool          // Run is stopping or stopped; Send fails
	cause    error         // the first fatal error
	stopped  error         // why Run's ctx was cancelled, if its canceller gave a cause
	deadline time.Time     // once Run is stopping: when flushes must end
	lost     int           // messages given up on, reported when Run returns
	touched  []*batch[T]   // the batches one in-place Send reaches (see sendInPlaceLocked), kept for reuse
}

// batch is a group of messages flushed together and the acks to call when
// they are.
type batch[T any] struct {
	msgs  []sluice.Message[T] // with New
	buf   []byte              // with NewEncoded: the messages encoded
	ends  []int               // with NewEncoded: where each message ends in buf
	acks  []func()            // one per Send with messages here; never nil
	size  int                 // bytes, when Config.Bytes is set
	first time.Time
}

// len returns how many messages b holds, made by either constructor.
func (b *batch[T]) len() int { return len(b.msgs) + len(b.ends) }

// New returns a Destination that flushes batches to f, after checking c
// and the options. It does no I/O and starts no goroutine. A nil f, an
// invalid Config, or Config.Bytes set for a T whose size is unknown (see
// [WithSize]) is an error.
func New[T any](c Config, f Flusher[T], opts ...Option[T]) (*Destination[T], error) {
	d, errs := newDestination(c, opts)
	d.f = f
	if ff, ok := f.(FlushFunc[T]); f == nil || ok && ff == nil {
		errs = append(errs, errors.New("flusher is nil"))
	}
	if c.Bytes > 0 {
		switch {
		case d.o.size != nil:
			d.size = d.o.size
		default:
			d.size = defaultSize[T]()
			if d.size == nil {
				errs = append(errs, fmt.Errorf("bytes is set but the size of a %T is unknown: use WithSize", *new(T)))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("batch: new: %w", err)
	}
	return d, nil
}

// newDestination makes what New and NewEncoded share: c with its
// defaults, the options applied, and the problems found in c.
func newDestination[T any](c Config, opts []Option[T]) (*Destination[T], []error) {
	var errs []error
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	var o options[T]
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.retryable == nil {
		o.retryable = sluice.IsRetryable
	}
	d := &Destination[T]{cfg: c.withDefaults(), o: o, arm: make(chan struct{}, 1)}
	d.work.L = &d.mu
	return d, errs
}

// Send buffers msgs for flushing and returns; ack is called later, once
// every message of this call has been flushed (see the package doc). Send
// copies the Message values (or, made by [NewEncoded], their encodings)
// and does not keep msgs.
//
// Send blocks while Config.Parallelism batches are already waiting or in
// flight and msgs would fill another one. It waits for room before
// accepting any message: when it returns an error, none of msgs was
// accepted and ack will never be called. Once there is room for one
// batch, all of msgs is accepted, even if they fill several: a Send is
// never split, so the Destination holds at most Parallelism batches plus
// the batch being filled plus one Send's worth. The errors are:
//
//   - ctx's error, wrapped, when ctx is done before there is room, or at
//     once when ctx is already done;
//   - an error wrapping [sluice.ErrClosed] once Run is stopping or has
//     stopped (and the fatal error, if that is why Run stopped, or the
//     cause Run's ctx was cancelled with, see [context.WithCancelCause]).
//
// Send may be called before Run starts (a Processor starts Run and its
// loops at the same moment): messages are buffered, and Send blocks when
// the buffer is full, until Run frees room or ctx is done.
// Send with no messages acks at once and returns nil, without waiting for
// earlier messages to be flushed.
func (d *Destination[T]) Send(ctx context.Context, ack func(), msgs ...sluice.Message[T]) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("batch: send: %w", err)
	}
	var e *encoded
	if d.enc != nil && len(msgs) > 0 {
		// Uncontended, the messages are encoded straight into their
		// batches; otherwise in this goroutine, beside the lock's
		// holder, and copied in.
		if d.mu.TryLock() {
			return d.sendInPlaceLocked(ctx, ack, msgs)
		}
		e = d.encode(msgs)
		defer d.release(e)
	}
	return d.send(ctx, ack, len(msgs), msgs, e)
}

// send is Send for n messages: msgs, or, encoded, e (then msgs may be
// nil).
func (d *Destination[T]) send(ctx context.Context, ack func(), n int, msgs []sluice.Message[T], e *encoded) error {
	d.mu.Lock()
	var touched int
	for {
		if d.closed {
			err := d.closedErrLocked()
			d.mu.Unlock()
			return err
		}
		if n == 0 {
			d.mu.Unlock()
			sluice.Ack(ack)
			return nil
		}
		var cuts int
		cuts, touched = d.fill(n, msgs, e, nil, false)
		if cuts == 0 || d.pending < d.cfg.Parallelism {
			break
		}
		if err := d.waitRoomLocked(ctx); err != nil {
			return err
		}
	}
	if ack != nil && touched > 1 {
		ack = sluice.AckAfter(touched, ack)
	}
	d.fill(n, msgs, e, ack, true)
	d.cutIfIdleLocked()
	d.mu.Unlock()
	return nil
}

// cutIfIdleLocked cuts the current batch if Config.Eager is set and a
// flush slot is free. d.mu must be held.
func (d *Destination[T]) cutIfIdleLocked() {
	if d.cfg.Eager && d.cur != nil && d.pending < d.cfg.Parallelism {
		d.cutLocked()
	}
}

// fill walks count messages, msgs or (for a destination made by
// NewEncoded) their encodings e, as they go into batches: into the
// current batch, cutting it when it reaches Config.Count or Config.Bytes.
// With add false it changes nothing and only counts; with add true it
// adds the messages, cuts the batches, and attaches ack to every batch
// that receives one of them. It reports how many batches are cut and how
// many batches receive a message. Encodings are copied in runs, one copy
// per batch they go to, not one per message. d.mu must be held.
//
// One walk serves both, so that the room Send waits for and the ack count
// it sets up match what it then does.
func (d *Destination[T]) fill(count int, msgs []sluice.Message[T], e *encoded, ack func(), add bool) (cuts, touched int) {
	if e != nil {
		return d.fillEncoded(e, ack, add)
	}
	limit := d.cfg.Bytes
	n, size := 0, 0
	if d.cur != nil {
		n, size = d.cur.len(), d.cur.size
	}
	mine := false // the current batch holds one of msgs
	from := 0     // with e and add: the messages from here on are in the current batch but not yet copied
	copyTo := func(to int) {
		if e != nil && add && to > from {
			d.cur.appendEncoded(e, from, to, d.cfg.Bytes)
		}
		from = to
	}
	for i := range count {
		s := 0
		switch {
		case e != nil:
			s = e.size(i)
		case d.size != nil:
			s = max(d.size(&msgs[i]), 0)
		}
		if n > 0 && limit > 0 && s > limit-size { // no room: cut first
			cuts++
			if mine {
				touched++
			}
			if add {
				copyTo(i)
				d.cutLocked()
			}
			n, size, mine = 0, 0, false
		}
		if add {
			b := d.curLocked()
			if !mine && ack != nil {
				b.acks = append(b.acks, ack)
			}
			if e == nil {
				if len(b.msgs) == cap(b.msgs) {
					// Double, up to Count: append's growth of 1.25×
					// for large slices copied a batch of 10,000 some
					// twenty times, 5× its size allocated, before it
					// settled (it is reused after).
					b.msgs = slices.Grow(b.msgs, max(min(len(b.msgs), d.cfg.Count-len(b.msgs)), 1))
				}
				b.msgs = append(b.msgs, msgs[i])
			}
			b.size += s
		}
		n, size, mine = n+1, size+s, true
		if n >= d.cfg.Count || limit > 0 && size >= limit {
			cuts++
			touched++
			if add {
				copyTo(i + 1)
				d.cutLocked()
			}
			n, size, mine = 0, 0, false
		}
	}
	copyTo(count)
	if mine {
		touched++
	}
	return cuts, touched
}

// curLocked returns the batch being filled, starting one if there is none;
// a new batch arms the age timer. d.mu must be held.
func (d *Destination[T]) curLocked() *batch[T] {
	if d.cur != nil {
		return d.cur
	}
	if n := len(d.free); n > 0 {
		d.cur, d.free = d.free[n-1], d.free[:n-1]
	} else if d.enc != nil {
		d.cur = &batch[T]{buf: make([]byte, 0, d.bufCap)}
	} else {
		d.cur = &batch[T]{msgs: make([]sluice.Message[T], 0, min(d.cfg.Count, 1024))}
	}
	d.cur.first = time.Now()
	d.armLocked()
	return d.cur
}

// armLocked makes sure the Run loop will look at the age of the current
// batch. With Config.Eager it does nothing: a batch is cut whenever a
// flush slot is free (by Send, or by the flush that frees the slot), and
// age cuts only when one is, so the timer would never cut anything; not
// arming it spares the Run loop a wake-up per batch. d.mu must be held.
func (d *Destination[T]) armLocked() {
	if d.armed || d.cfg.Eager {
		return
	}
	d.armed = true
	select {
	case d.arm <- struct{}{}:
	default: // a signal is already waiting
	}
}

// cutLocked queues the current batch for a worker. d.mu must be held.
func (d *Destination[T]) cutLocked() {
	d.bufCap = max(d.bufCap, cap(d.cur.buf))
	d.queue = append(d.queue, d.cur)
	d.cur = nil
	d.pending++
	d.work.Signal()
}

// wakeSendersLocked wakes every Send waiting for room. d.mu must be held.
func (d *Destination[T]) wakeSendersLocked() {
	if d.room != nil {
		close(d.room)
		d.room = nil
	}
}

func (d *Destination[T]) closedErrLocked() error {
	if d.cause != nil {
		return fmt.Errorf("batch: send: %w: %w", sluice.ErrClosed, d.cause)
	}
	if d.stopped != nil {
		return fmt.Errorf("batch: send: %w: %w", sluice.ErrClosed, d.stopped)
	}
	return fmt.Errorf("batch: send: %w", sluice.ErrClosed)
}

// stopCause is the cause ctx was cancelled with (context.WithCancelCause),
// or nil when it was cancelled or timed out without one. A destination
// that runs the batch under a ctx it cancels when it fails (its
// connection refused, say) gives the cause: the Sends refused then say it.
func stopCause(ctx context.Context) error {
	c := context.Cause(ctx)
	if c == nil || errors.Is(c, context.Canceled) || errors.Is(c, context.DeadlineExceeded) {
		return nil
	}
	return c
}

var (
	_ sluice.Destination[[]byte] = (*Destination[[]byte])(nil)
	_ sluice.Runner              = (*Destination[[]byte])(nil)
)

// waitRoomLocked waits, with d.mu released, until a flush finishes (a
// slot or room frees up) or ctx is done. Called with d.mu held, it
// returns with d.mu held, but not when it returns ctx's error.
func (d *Destination[T]) waitRoomLocked(ctx context.Context) error {
	if d.room == nil {
		d.room = make(chan struct{})
	}
	room := d.room
	d.mu.Unlock()
	select {
	case <-room:
	case <-ctx.Done():
		return fmt.Errorf("batch: send: %w", ctx.Err())
	}
	d.mu.Lock()
	return nil
}
