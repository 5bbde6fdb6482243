package sluicetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
)

// The suite calls a connector in a goroutine of its own and waits for it
// with a deadline, so that a call that never returns fails the suite
// instead of hanging it, and a panic is reported instead of crashing it.

// outcome is what a call came to: its result, or a panic.
type outcome[R any] struct {
	v        R
	panicked bool
	p        any
}

// capture calls f and recovers a panic into the outcome.
func capture[R any](f func() R) (o outcome[R]) {
	o.panicked = true
	defer func() {
		if o.panicked {
			o.p = recover()
		}
	}()
	o.v = f()
	o.panicked = false
	return o
}

// goCall calls f in a new goroutine and delivers its outcome on the
// returned channel, which has room for it: the goroutine ends when f
// returns, whether or not anyone still waits.
func goCall[R any](f func() R) chan outcome[R] {
	ch := make(chan outcome[R], 1)
	go func() { ch <- capture(f) }()
	return ch
}

// await waits for ch until ctx is done; an outcome ready by then wins.
func await[R any](ctx context.Context, ch <-chan outcome[R]) (outcome[R], bool) {
	select {
	case o := <-ch:
		return o, true
	case <-ctx.Done():
		select {
		case o := <-ch:
			return o, true
		default:
			return outcome[R]{}, false
		}
	}
}

// within calls f in a new goroutine and waits d at most for it.
func within[R any](d time.Duration, f func() R) (outcome[R], bool) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return await(ctx, goCall(f))
}

// errNoReturn is the error of a call that did not return in time.
var errNoReturn = errors.New("did not return in time")

// errReported wraps the error of a call whose failure was reported
// already, such as a panic.
var errReported = errors.New("reported")

// delivery is what Recv returned.
type delivery[T any] struct {
	msg sluice.Message[T]
	ack func()
	err error
}

// allow is how long to wait for a call with ctx: until ctx's deadline,
// then the allowance for returning once ctx is done.
func (h *harness[T]) allow(ctx context.Context) time.Duration {
	d := h.s.prompt
	if deadline, ok := ctx.Deadline(); ok {
		d += max(0, time.Until(deadline))
	}
	return d
}

// recv calls Recv with ctx and returns the payload and the ack. err is
// Recv's error, errNoReturn, or wraps errReported. A nil ack with a nil
// error is reported and replaced by a no-op.
func (h *harness[T]) recv(ctx context.Context) (string, func(), error) {
	src := h.src
	o, ok := within(h.allow(ctx), func() delivery[T] {
		if h.batch != nil {
			return h.recvBatch(ctx)
		}
		msg, ack, err := src.Recv(ctx)
		return delivery[T]{msg, ack, err}
	})
	switch {
	case !ok:
		return "", nil, errNoReturn
	case o.panicked:
		h.t.Errorf("%s: Recv panicked: %v", h.rule, o.p)
		return "", nil, fmt.Errorf("recv: %w", errReported)
	case o.v.err != nil:
		return "", nil, o.v.err
	}
	ack := o.v.ack
	if ack == nil {
		h.mu.Lock()
		first := !h.nilAckSeen
		h.nilAckSeen = true
		h.mu.Unlock()
		if first {
			h.t.Errorf("recv-ack: Recv returned a nil ack with a nil error")
		}
		ack = sluice.Noop
	}
	p := string(h.s.unwrap(o.v.msg))
	h.mu.Lock()
	if h.received == nil {
		h.received = make(map[string]bool)
	}
	h.received[p] = true
	h.mu.Unlock()
	return p, ack, nil
}

// recvBatch returns the next of the messages that RecvBatch handed over,
// calling it for up to 3 more when none is left, and checks what it
// returns against its contract.
func (h *harness[T]) recvBatch(ctx context.Context) delivery[T] {
	if len(h.held) == 0 {
		msgs, acks := make([]sluice.Message[T], 3), make([]func(), 3)
		n, err := h.batch.RecvBatch(ctx, msgs, acks)
		switch {
		case err != nil && n != 0:
			h.t.Errorf("recv-batch: RecvBatch returned %d messages and an error: %v", n, err)
			return delivery[T]{err: err}
		case err != nil:
			return delivery[T]{err: err}
		case n < 1 || n > len(msgs):
			h.t.Errorf("recv-batch: RecvBatch returned n = %d with a nil error, want 1 to %d", n, len(msgs))
			return delivery[T]{err: fmt.Errorf("recv: %w", errReported)}
		}
		for i := range n {
			h.held = append(h.held, delivery[T]{msgs[i], acks[i], nil})
		}
	}
	d := h.held[0]
	h.held = h.held[1:]
	return d
}

// next receives one message, waiting Timeout at most.
func (h *harness[T]) next() (string, func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), h.f.Timeout)
	defer cancel()
	return h.recv(ctx)
}

// receive receives n messages and returns their payloads. It acks each
// one at once if ackNow is set, and otherwise returns the acks. It stops at
// the first failure, which it reports.
func (h *harness[T]) receive(n int, ackNow bool) (payloads []string, acks []func()) {
	h.t.Helper()
	for len(payloads) < n {
		p, ack, err := h.next()
		if err != nil {
			h.recvFailed(err, len(payloads), n)
			break
		}
		if ackNow {
			h.ackMsg(ack)
		} else {
			acks = append(acks, ack)
		}
		payloads = append(payloads, p)
	}
	return payloads, acks
}

// recvFailed reports err, from Recv after got of want messages.
func (h *harness[T]) recvFailed(err error, got, want int) {
	h.t.Helper()
	switch {
	case errors.Is(err, errReported):
	case errors.Is(err, errNoReturn):
		h.t.Errorf("recv-cancel: Recv did not return within %v of its context's deadline (after %d of %d messages)", h.s.prompt, got, want)
	case errors.Is(err, io.EOF):
		h.t.Errorf("round-trip: unexpected io.EOF from Recv after %d of %d messages", got, want)
	case errors.Is(err, context.DeadlineExceeded):
		h.t.Errorf("%s: no message within %v after %d of %d messages", h.rule, h.f.Timeout, got, want)
	default:
		h.t.Errorf("%s: Recv after %d of %d messages: %v", h.rule, got, want, err)
	}
}

// ackMsg calls an ack that Recv returned.
func (h *harness[T]) ackMsg(ack func()) {
	h.t.Helper()
	if o := capture(func() bool { ack(); return true }); o.panicked {
		h.t.Errorf("%s: an ack returned by Recv panicked: %v", h.rule, o.p)
	}
}

// ackTwice calls ack twice at once, as a source must allow.
func (h *harness[T]) ackTwice(ack func()) {
	var wg sync.WaitGroup
	wg.Go(func() { h.ackMsg(ack) })
	h.ackMsg(ack)
	wg.Wait()
}

// send calls Send with ctx, c's ack (nil if c is nil) and a message for
// each payload. err is Send's error, errNoReturn, or wraps errReported.
// Once Send returns, send checks that it left msgs as they were, then
// writes other messages over them (see checkMsgs).
func (h *harness[T]) send(ctx context.Context, c *ackCounter, payloads ...string) error {
	msgs := make([]sluice.Message[T], len(payloads))
	for i, p := range payloads {
		msgs[i] = h.s.wrap([]byte(p))
	}
	orig := slices.Clone(msgs)
	var ack func()
	what := "a Send"
	if c != nil {
		c.payloads, what = payloads, c.what
		ack = c.fn()
	}
	dst := h.dst
	call := func() error { return dst.Send(ctx, ack, msgs...) }
	var acks, origAcks []func()
	if h.batchDst != nil {
		acks = splitAck(ack, len(msgs))
		origAcks = slices.Clone(acks)
		call = func() error { return h.batchDst.SendBatch(ctx, msgs, acks) }
	}
	o, ok := within(h.allow(ctx), call)
	if !ok {
		return errNoReturn // Send may still use msgs: leave them be
	}
	h.checkMsgs(what, payloads, orig, msgs)
	h.checkAcksSlice(what, origAcks, acks)
	if o.panicked {
		h.t.Errorf("%s: Send panicked: %v", h.rule, o.p)
		return fmt.Errorf("send: %w", errReported)
	}
	return o.v
}

// splitAck returns n acks for the messages of one SendBatch: ack is
// called once all n were called, each counting once. With no messages,
// there is nothing for SendBatch to ack, and ack is called at once.
func splitAck(ack func(), n int) []func() {
	acks := make([]func(), n)
	if ack == nil {
		return acks // nil acks are allowed
	}
	all := sluice.AckCountdown(n, ack)
	for i := range acks {
		acks[i] = sluice.AckOnce(all)
	}
	return acks
}

// checkAcksSlice reports, under send-msgs, a SendBatch that changed its
// acks slice (which held orig), and writes over it acks that record a
// call: a destination that kept the slice and acks through it later is
// reported when the subtest ends.
func (h *harness[T]) checkAcksSlice(what string, orig, acks []func()) {
	h.t.Helper()
	for i := range acks {
		// A func compares only with nil: compare code addresses, which
		// catches an ack replaced by another kind of function.
		if (acks[i] == nil) != (orig[i] == nil) || acks[i] != nil && !sameCode(acks[i], orig[i]) {
			h.reportChanged("send-msgs: %s changed ack %d of the acks it was given (a destination must not modify the caller's slice)", what, i)
		}
		acks[i] = func() { h.keptAcks.CompareAndSwap(nil, &what) }
	}
}

// sameCode reports whether a and b run the same code.
func sameCode(a, b func()) bool {
	return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer()
}

// kept is the msgs of a Send that returned, written over by the suite.
type kept[T any] struct {
	what     string
	payloads []string
	want     []sluice.Message[T] // what the suite wrote
	msgs     []sluice.Message[T] // the slice given to Send
}

// checkMsgs reports, under send-msgs, a Send that changed msgs, its
// caller's slice, which held orig and payloads. Then it writes other
// messages over msgs, whose payloads the suite remembers: a destination
// that kept the slice and reads it later delivers them (compare reports
// it), and one that changes it later is caught by checkKept.
func (h *harness[T]) checkMsgs(what string, payloads []string, orig, msgs []sluice.Message[T]) {
	h.t.Helper()
	if i := h.differs(payloads, orig, msgs); i >= 0 {
		h.reportChanged("send-msgs: %s changed message %d of the msgs it was given before it returned (a destination must not modify the caller's slice)", what, i)
	}
	over := make([]string, len(payloads))
	for i, p := range payloads {
		over[i] = scribble(p)
		msgs[i] = h.s.wrap([]byte(over[i]))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.scribbled == nil {
		h.scribbled = make(map[string]bool)
	}
	for _, p := range over {
		h.scribbled[p] = true
	}
	h.kept = append(h.kept, kept[T]{what: what, payloads: over, want: slices.Clone(msgs), msgs: msgs})
}

// checkKept reports a Send whose msgs changed after it returned. It runs
// when the subtest ends, after the runners stopped.
func (h *harness[T]) checkKept() {
	h.t.Helper()
	if what := h.keptAcks.Load(); what != nil {
		h.reportChanged("send-msgs: %s kept its acks slice and called an ack through it after SendBatch returned (a destination must not keep the caller's slice)", *what)
		return
	}
	h.mu.Lock()
	ks := h.kept
	h.mu.Unlock()
	for _, k := range ks {
		if i := h.differs(k.payloads, k.want, k.msgs); i >= 0 {
			h.reportChanged("send-msgs: %s changed message %d of the msgs it was given after it returned (a destination must not keep the caller's slice)", k.what, i)
			return
		}
	}
}

func (h *harness[T]) reportChanged(format string, args ...any) {
	h.t.Helper()
	h.mu.Lock()
	first := !h.changed
	h.changed = true
	h.mu.Unlock()
	if first {
		h.t.Errorf(format, args...)
	}
}

// differs returns the index of the first message of msgs that is not
// want's, or -1. It compares the messages with reflect.DeepEqual (where a
// message equals itself: a func in T does not) and, where the payload is
// what Unwrap makes of the message sent, their payloads too, which sees a
// change made in place, such as to the bytes of a []byte Value.
func (h *harness[T]) differs(payloads []string, want, msgs []sluice.Message[T]) int {
	for i := range msgs {
		w, m := want[i], msgs[i]
		if reflect.DeepEqual(w, w) && !reflect.DeepEqual(w, m) {
			return i
		}
		if h.unwraps(payloads[i]) && string(h.s.unwrap(m)) != payloads[i] {
			return i
		}
	}
	return -1
}

// unwraps reports whether Unwrap turns the message Wrap makes of p back
// into p: not so for a connector whose received messages differ from those
// sent, such as a syslog source that parses what it receives.
func (h *harness[T]) unwraps(p string) bool {
	return string(h.s.unwrap(h.s.wrap([]byte(p)))) == p
}

// scribble returns p with the '.' after its id replaced: a payload of the
// same size that was never sent.
func scribble(p string) string {
	if i := strings.IndexByte(p, '.'); i >= 0 {
		return p[:i] + "!" + p[i+1:]
	}
	return "!" + p
}

// sendFailed reports err, from the Send described by what.
func (h *harness[T]) sendFailed(what string, err error) {
	h.t.Helper()
	switch {
	case errors.Is(err, errReported):
	case errors.Is(err, errNoReturn):
		h.t.Errorf("send-cancel: %s did not return within %v of its context's deadline", what, h.s.prompt)
	default:
		h.t.Errorf("%s: %s: %v", h.rule, what, err)
	}
}

// wantCanceled reports, under rule, a call with a cancelled context that
// did not return at once with an error wrapping context.Canceled.
func (h *harness[T]) wantCanceled(rule, what string, err error) {
	h.t.Helper()
	switch {
	case errors.Is(err, errReported):
	case errors.Is(err, errNoReturn):
		h.t.Errorf("%s: %s did not return within %v", rule, what, h.s.prompt)
	case err == nil:
		h.t.Errorf("%s: %s returned without an error, want one wrapping context.Canceled", rule, what)
	case !errors.Is(err, context.Canceled):
		h.t.Errorf("%s: %s returned %v, want an error wrapping context.Canceled", rule, what, err)
	}
}

// sender sends batches of payloads, one Send each, from a goroutine.
type sender struct {
	done   chan struct{}
	cancel context.CancelFunc
	what   string // the Send that failed
	err    error  // its error
}

// goSend starts sending batches[i] with acks[i], which may be nil, each
// Send with a deadline of Timeout. It stops at the first error.
func (h *harness[T]) goSend(batches [][]string, acks []*ackCounter) *sender {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sender{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(s.done)
		for i, b := range batches {
			sctx, stop := context.WithTimeout(ctx, h.f.Timeout)
			err := h.send(sctx, acks[i], b...)
			stop()
			if err != nil {
				if acks[i] != nil && !errors.Is(err, errNoReturn) {
					acks[i].sendFailed(err)
				}
				s.what, s.err = "Send "+strconv.Itoa(i), err
				return
			}
		}
	}()
	return s
}

// wait waits for s to finish, first cancelling the Send in flight if
// abort is set, reports its failure, and reports whether every Send
// returned nil.
func (h *harness[T]) wait(s *sender, abort bool) bool {
	h.t.Helper()
	if abort {
		s.cancel()
	}
	<-s.done
	s.cancel()
	if s.err != nil && !(abort && errors.Is(s.err, context.Canceled)) {
		h.sendFailed(s.what, s.err)
	}
	return s.err == nil
}

// ackCounter counts the calls of the ack given to one Send.
type ackCounter struct {
	what     string
	payloads []string          // the Send's; set before Send is called
	before   func()            // if set, called first on each call
	check    func(*ackCounter) // if set, called next on the first call
	after    func()            // if set, called last on the first call
	calls    atomic.Int32
	mu       sync.Mutex
	err      error  // Send's error: the ack must never be called
	problem  string // what check found wrong
}

// newAck returns a counter that the subtest checks when it ends: the ack
// must have been called at most once, and never if Send failed. Its first
// call checks the storage (see checkStored).
func (h *harness[T]) newAck(what string) *ackCounter {
	c := &ackCounter{what: what, check: h.checkStored}
	h.addAck(c)
	return c
}

func (h *harness[T]) addAck(c *ackCounter) {
	h.mu.Lock()
	h.acks = append(h.acks, c)
	h.mu.Unlock()
}

func (c *ackCounter) fn() func() {
	return func() {
		if c.before != nil {
			c.before()
		}
		first := c.calls.Load() == 0
		if first && c.check != nil {
			c.check(c)
		}
		if c.calls.Add(1) == 1 && c.after != nil {
			c.after()
		}
	}
}

func (c *ackCounter) sendFailed(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

func (c *ackCounter) sendErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// found records the first thing check found wrong.
func (c *ackCounter) found(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.problem == "" {
		c.problem = fmt.Sprintf(format, args...)
	}
}

func (c *ackCounter) problems() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.problem
}

func (c *ackCounter) broken() bool {
	n := c.calls.Load()
	return n > 1 || n > 0 && c.sendErr() != nil
}

// checkStored runs, in the destination's goroutine, when the ack of a
// Send is first called, and so before anything the destination does after
// it: no ack may be called while Storage.Fail is on, and every message of
// the Send must be in the storage (Storage.Read), or received already.
func (h *harness[T]) checkStored(c *ackCounter) {
	if h.failing.Load() {
		c.found("write-fault: the ack of %s was called while every write to the storage failed (Storage.Fail)", c.what)
		return
	}
	read := h.s.storage.Read
	if read == nil || len(c.payloads) == 0 {
		return
	}
	msgs, err := read(h.name)
	if err != nil {
		if !h.ended.Load() {
			c.found("readback: Storage.Read, called by the ack of %s: %v", c.what, err)
		}
		return
	}
	stored := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		stored[string(h.s.unwrap(m))] = true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range c.payloads {
		if !stored[p] && !h.received[p] {
			c.found("readback: the ack of %s was called before its message %s was stored (Storage.Read does not return it, nor was it received)", c.what, show(p))
			return
		}
	}
}

// waitAcked reports the acks not called within Timeout.
func (h *harness[T]) waitAcked(acks []*ackCounter) {
	h.t.Helper()
	var missing []*ackCounter
	poll(h.f.Timeout, func() bool {
		missing = missing[:0]
		for _, c := range acks {
			if c != nil && c.calls.Load() == 0 {
				missing = append(missing, c)
			}
		}
		return len(missing) == 0
	})
	if len(missing) > 0 {
		h.t.Errorf("ack-exactly-once: the ack of %s (and %d more) was not called within %v", missing[0].what, len(missing)-1, h.f.Timeout)
	}
}

// checkAcks watches the subtest's acks for a short while and reports any
// called twice, or called after its Send failed. It runs when the subtest
// ends, after the runners stopped.
func (h *harness[T]) checkAcks() {
	h.t.Helper()
	h.mu.Lock()
	acks := slices.Clone(h.acks)
	h.mu.Unlock()
	if len(acks) == 0 {
		return
	}
	holdsFor(h.s.grace, func() bool {
		return !slices.ContainsFunc(acks, (*ackCounter).broken)
	})
	reported := 0
	for _, c := range acks {
		if p := c.problems(); p != "" {
			if reported++; reported > 5 {
				h.t.Errorf("ack-exactly-once: more acks called too often or too early; stopping at 5")
				return
			}
			h.t.Errorf("%s", p)
		}
		if !c.broken() {
			continue
		}
		if reported++; reported > 5 {
			h.t.Errorf("ack-exactly-once: more acks called too often; stopping at 5")
			return
		}
		if err := c.sendErr(); err != nil {
			h.t.Errorf("no-ack-on-error: %s returned an error (%v) but its ack was called %s, want never", c.what, err, times(c.calls.Load()))
		} else {
			h.t.Errorf("ack-exactly-once: the ack of %s was called %s, want once", c.what, times(c.calls.Load()))
		}
	}
}

// times says n times in words.
func times(n int32) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return strconv.Itoa(int(n)) + " times"
}

// poll calls cond until it returns true or d has passed, waiting a little
// longer each time, and reports whether cond returned true.
func poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	wait := time.Millisecond
	for !cond() {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		t := time.NewTimer(min(wait, left))
		<-t.C
		wait = min(2*wait, 20*time.Millisecond)
	}
	return true
}

// holdsFor polls cond for d and reports whether it held throughout.
func holdsFor(d time.Duration, cond func() bool) bool {
	return !poll(d, func() bool { return !cond() })
}
