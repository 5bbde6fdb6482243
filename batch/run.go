package batch

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/retry"
)

// Run flushes batches until ctx is done or a flush fails fatally, then
// stops; it returns only after every goroutine and timer it started has
// stopped.
//
// Run starts Config.Parallelism workers, each flushing one batch at a
// time, and itself cuts batches when they reach Config.Age; its timer is
// set only while a batch is being filled, and never with Config.Eager
// (which cuts a batch whenever a slot is free), so an idle or eager
// Destination does not wake it up.
//
// When ctx is done, Run stops accepting Sends (they fail with
// [sluice.ErrClosed]), cuts the batch being filled, and goes on flushing
// what it holds, with a context that keeps ctx's values, for up to
// Config.StopTimeout. Flushes still running then are cancelled. What was
// not flushed is not acked; Run logs how many messages that was, at Warn,
// and returns an error wrapping [sluice.ErrUndelivered] that says so. It
// returns nil when everything it was given was flushed.
//
// A flush error that is not retryable, or that is still failing after
// Config.Retry.MaxAttempts, goes to the dead letter if there is one (see
// [WithDeadLetter]). Otherwise it is fatal: Run cancels the other flushes,
// stops accepting Sends, and returns the error wrapped as
// "batch: flush: …"; that batch and everything still held are not acked.
// A dead-letter Send that fails is fatal too ("batch: dead letter: …").
//
// A second call returns [sluice.ErrAlreadyRunning].
func (d *Destination[T]) Run(ctx context.Context) error {
	return d.RunAfter(ctx, nil)
}

// RunAfter calls start, then runs as [Destination.Run] does. A destination
// that must connect or check its endpoint before it can flush does so in
// start, which may retry for as long as ctx lasts; meanwhile Sends are
// buffered, and block once the buffer is full, as before Run.
//
// If start returns an error, RunAfter stops without flushing: Sends fail
// with [sluice.ErrClosed], and the messages held are not acked (a durable
// source delivers them again). It logs how many there were, at Error, and
// returns start's error with that count; or, when ctx is done (a stop
// during start-up: start returns ctx's error), an error wrapping
// [sluice.ErrUndelivered], or nil if it held none. When start succeeds
// after ctx is done, what is held is flushed as in a stop of Run. A nil
// start is Run.
func (d *Destination[T]) RunAfter(ctx context.Context, start func(context.Context) error) error {
	if !d.ran.CompareAndSwap(false, true) {
		return sluice.ErrAlreadyRunning
	}
	if start != nil {
		if err := start(ctx); err != nil {
			return d.abandon(ctx, err)
		}
	}
	// Flushes outlive ctx: on shutdown they get StopTimeout to finish.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	var workers sync.WaitGroup
	for range d.cfg.Parallelism {
		workers.Go(func() {
			if err := d.worker(workCtx); err != nil {
				// The cause first: a Send refused once the loop sees
				// workCtx done must say why.
				d.fail(err)
				cancelWork()
			}
		})
	}
	d.loop(ctx, workCtx)
	d.stop(ctx, cancelWork, &workers)

	d.mu.Lock()
	lost := d.lost
	for _, b := range d.queue {
		lost += b.len()
	}
	if d.cur != nil {
		lost += d.cur.len()
	}
	d.queue, d.cur, d.free = nil, nil, nil
	cause := d.cause
	d.mu.Unlock()
	if lost > 0 {
		d.o.logger.Warn("batch: stopped with messages not flushed; they are not acked", "messages", lost)
	}
	if cause != nil {
		d.o.logger.Error("batch: stopped", "err", cause)
		return cause
	}
	if lost > 0 {
		return undelivered(fmt.Sprintf("batch: stopped with %d messages not flushed, not acked", lost))
	}
	return nil
}

// abandon stops a Destination whose start failed (err), or was stopped by
// ctx, without flushing: see RunAfter.
func (d *Destination[T]) abandon(ctx context.Context, err error) error {
	d.mu.Lock()
	d.closed = true
	d.stopped = stopCause(ctx)
	if err != nil && ctx.Err() == nil && d.cause == nil {
		d.cause = err
	}
	held := 0
	for _, b := range d.queue {
		held += b.len()
	}
	if d.cur != nil {
		held += d.cur.len()
	}
	d.queue, d.cur, d.free = nil, nil, nil
	d.wakeSendersLocked()
	d.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		if held == 0 {
			return err
		}
		d.o.logger.Error("batch: start failed; the messages held are not delivered, not acked", "messages", held, "err", err)
		return fmt.Errorf("%w (%d messages not delivered, not acked)", err, held)
	}
	if held == 0 {
		return nil
	}
	d.o.logger.Error("batch: stopped before it could start; the messages held are not delivered, not acked", "messages", held)
	return undelivered(fmt.Sprintf("batch: stopped before it could start: %d messages not delivered, not acked", held))
}

// undelivered is an error that is [sluice.ErrUndelivered] with its own
// text, which counts the messages.
type undelivered string

func (e undelivered) Error() string        { return string(e) }
func (e undelivered) Is(target error) bool { return target == sluice.ErrUndelivered }

// loop cuts batches by age until ctx or workCtx is done. It owns the age
// timer, which is set only while there is a batch being filled.
func (d *Destination[T]) loop(ctx, workCtx context.Context) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		d.mu.Lock()
		wait := d.cutByAgeLocked(time.Now())
		d.mu.Unlock()
		var tick <-chan time.Time
		switch {
		case wait > 0 && timer == nil:
			timer = time.NewTimer(wait)
			tick = timer.C
		case wait > 0:
			timer.Reset(wait)
			tick = timer.C
		case timer != nil:
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			return
		case <-workCtx.Done():
			return
		case <-d.arm:
		case <-tick:
		}
		if d.onWake != nil {
			d.onWake()
		}
	}
}

// cutByAgeLocked cuts the current batch if it is Config.Age old and a
// flush slot is free, and returns how long until it will be, or 0 when
// there is nothing to wait for. When the batch is due but every slot is
// busy, it is left to grow; the worker that frees a slot calls armLocked.
// d.mu must be held.
func (d *Destination[T]) cutByAgeLocked(now time.Time) time.Duration {
	if d.cur == nil {
		d.armed = false
		return 0
	}
	if due := d.cur.first.Add(d.cfg.Age); now.Before(due) {
		d.armed = true
		return due.Sub(now)
	}
	if d.pending < d.cfg.Parallelism {
		d.cutLocked()
	}
	d.armed = false
	return 0
}

// stop flushes what is held for up to StopTimeout, then cancels the
// flushes still running, and returns once every worker has returned.
func (d *Destination[T]) stop(ctx context.Context, cancelWork context.CancelFunc, workers *sync.WaitGroup) {
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.StopTimeout)
	defer cancel()
	deadline, _ := stopCtx.Deadline()

	d.mu.Lock()
	d.closed = true
	d.stopped = stopCause(ctx)
	d.deadline = deadline
	if d.cause == nil && d.cur != nil {
		d.cutLocked()
	}
	d.wakeSendersLocked()
	d.work.Broadcast() // idle workers: the queue is all there will be
	d.mu.Unlock()

	done := make(chan struct{})
	go func() {
		workers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-stopCtx.Done():
		cancelWork()
		d.mu.Lock()
		d.work.Broadcast()
		d.mu.Unlock()
		<-done
	}
}

// fail records a fatal error and stops accepting Sends.
func (d *Destination[T]) fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cause == nil {
		d.cause = err
	}
	d.closed = true
	d.wakeSendersLocked()
	d.work.Broadcast()
}

// worker flushes batches one at a time until there are none left after
// Run began stopping, or ctx is done. It returns a fatal error.
func (d *Destination[T]) worker(ctx context.Context) error {
	for {
		b, deadline, ok := d.take(ctx)
		if !ok {
			return nil
		}
		if err := d.flush(ctx, b, deadline); err != nil {
			return err
		}
	}
}

// take waits for a batch to flush. It also returns the deadline the flush
// must meet, zero until Run begins stopping.
func (d *Destination[T]) take(ctx context.Context) (*batch[T], time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.queue) == 0 && !d.closed && ctx.Err() == nil {
		d.work.Wait()
	}
	if len(d.queue) == 0 || ctx.Err() != nil {
		return nil, time.Time{}, false
	}
	b := d.queue[0]
	n := copy(d.queue, d.queue[1:])
	d.queue[n] = nil
	d.queue = d.queue[:n]
	return b, d.deadline, true
}

// flush writes b with retries, then acks it, dead-letters it, or gives it
// up; it returns a fatal error.
func (d *Destination[T]) flush(ctx context.Context, b *batch[T], deadline time.Time) error {
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	attempts := 0
	err := retry.DoNotify(ctx, d.cfg.Retry, d.o.retryable,
		func(ctx context.Context) error {
			attempts++
			if d.fb != nil {
				return d.fb.FlushBytes(ctx, b.buf, b.ends)
			}
			return d.f.Flush(ctx, b.msgs)
		},
		func(attempt int, delay time.Duration, err error) {
			d.o.logger.Warn("batch: flush failed, retrying",
				"attempt", attempt, "delay", delay, "messages", b.len(), "err", err)
		})
	switch {
	case err == nil:
		for _, ack := range b.acks {
			ack()
		}
		d.done(b, 0)
		return nil
	case ctx.Err() != nil: // stopping, out of time, or another worker failed
		d.done(b, b.len())
		return nil
	case d.o.deadLetter != nil:
		if dlErr := d.deadLetter(ctx, b, err, attempts); dlErr != nil {
			d.done(b, b.len())
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("batch: dead letter: %w", dlErr)
		}
		d.done(b, 0)
		return nil
	default:
		d.done(b, b.len())
		return fmt.Errorf("batch: flush: %w", err)
	}
}

// deadLetter sends b's messages, annotated with cause, to the dead letter,
// which acks them when it has them.
func (d *Destination[T]) deadLetter(ctx context.Context, b *batch[T], cause error, attempts int) error {
	text, n := cause.Error(), strconv.Itoa(attempts)
	msgs := make([]sluice.Message[T], len(b.msgs))
	for i, m := range b.msgs {
		m.Attributes = m.Attributes.With("error", text).With("batch.attempts", n)
		msgs[i] = m
	}
	acks := slices.Clone(b.acks) // b is reused once we return
	ack := sluice.AckOnce(func() {
		for _, a := range acks {
			a()
		}
	})
	if err := d.o.deadLetter.Send(ctx, ack, msgs...); err != nil {
		return err
	}
	d.o.logger.Warn("batch: sent to dead letter", "messages", len(msgs), "attempts", attempts, "err", cause)
	return nil
}

// done frees b's flush slot and keeps b for reuse; lost counts its
// messages as given up.
func (d *Destination[T]) done(b *batch[T], lost int) {
	clear(b.msgs) // drop references for the garbage collector
	clear(b.acks)
	b.msgs, b.buf, b.ends, b.acks, b.size = b.msgs[:0], b.buf[:0], b.ends[:0], b.acks[:0], 0
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lost += lost
	d.pending--
	d.free = append(d.free, b)
	d.wakeSendersLocked()
	d.cutIfIdleLocked()
	if d.cur != nil {
		d.armLocked() // a batch due by age may have waited for this slot
	}
}
