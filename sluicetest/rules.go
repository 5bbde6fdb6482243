package sluicetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
)

// Each rule below is one subtest, run on a fresh pair by suite.runRule.

// maxSends bounds send-cancel's Sends, for destinations that never block.
const maxSends = 100_000

// orderMessages is how many messages the order rule sends.
const orderMessages = 1000

// roundTrip sends Messages random payloads, one per Send, and receives
// them all.
func roundTrip[T any](h *harness[T]) { h.roundTrip(h.f.Messages, h.f.Ordered) }

// order is round-trip with more messages, in order.
func order[T any](h *harness[T]) { h.roundTrip(orderMessages, true) }

func (h *harness[T]) roundTrip(n int, ordered bool) {
	h.t.Helper()
	sent := h.payloads(n)
	batches := make([][]string, n)
	acks := make([]*ackCounter, n)
	for i := range sent {
		batches[i] = sent[i : i+1]
		acks[i] = h.newAck(fmt.Sprintf("Send %d", i))
	}
	s := h.goSend(batches, acks)
	got, _ := h.receive(n, true)
	ok := h.wait(s, len(got) < n)
	h.compare(sent, got, ordered)
	if ok && len(got) == n {
		h.waitAcked(acks)
	}
}

// recvBatch is round-trip (then ack-exactly-once) with the messages taken
// by RecvBatch, for a source that is a [sluice.BatchSource].
func recvBatch[T any](h *harness[T]) {
	b, ok := h.src.(sluice.BatchSource[T])
	if !ok {
		h.t.Skipf("the source is not a sluice.BatchSource")
		return
	}
	h.batch = b
	h.roundTrip(h.f.Messages, h.f.Ordered)
	ackExactlyOnce(h)
}

// sendBatch is round-trip, ack-exactly-once and no-ack-on-error with the
// messages written by SendBatch, for a destination that is a
// [sluice.BatchDestination].
func sendBatch[T any](h *harness[T]) {
	b, ok := h.dst.(sluice.BatchDestination[T])
	if !ok {
		h.t.Skipf("the destination is not a sluice.BatchDestination")
		return
	}
	h.batchDst = b
	ctx, cancel := context.WithTimeout(context.Background(), h.f.Timeout)
	defer cancel()
	o, ok := within(h.allow(ctx), func() error { return b.SendBatch(ctx, nil, nil) })
	switch {
	case !ok:
		h.t.Errorf("send-batch: SendBatch with no messages did not return within %v", h.allow(ctx))
	case o.panicked:
		h.t.Errorf("send-batch: SendBatch with no messages panicked: %v", o.p)
	case o.v != nil:
		h.t.Errorf("send-batch: SendBatch with no messages returned %v, want nil", o.v)
	}
	h.roundTrip(h.f.Messages, h.f.Ordered)
	ackExactlyOnce(h)
	noAckOnError(h)
}

// ackExactlyOnce sends batches of one to four messages, receives them
// all, and only then acks them in a random order: the messages of the
// first half of the Sends once, those of the second half twice at once.
// A repeated ack must have no further effect: it must neither reach the
// sender's ack again nor count toward another message.
func ackExactlyOnce[T any](h *harness[T]) {
	const sends = 10 // and one more, with a nil ack
	twice := func(i int) bool { return i >= sends/2 }
	var (
		batches [][]string
		acks    []*ackCounter
		sent    []string
		owner   = make(map[string]int) // payload → index of its Send
	)
	recvAcked := make([]atomic.Int32, sends) // messages the receiver acked, per Send
	early := make([]atomic.Int32, sends)     // acks called before the receiver acked them all
	for i := range sends + 1 {
		b := h.payloads(1 + i%4)
		var c *ackCounter
		if i < sends {
			c = h.newAck(fmt.Sprintf("Send %d (%s)", i, count(len(b), "message")))
			c.before = func() {
				if int(recvAcked[i].Load()) < len(b) {
					early[i].Add(1)
				}
			}
		}
		for _, p := range b {
			owner[p] = i
		}
		batches, acks, sent = append(batches, b), append(acks, c), append(sent, b...)
	}
	s := h.goSend(batches, acks)
	got, gotAcks := h.receive(len(sent), false)
	ok := h.wait(s, len(got) < len(sent))
	h.compare(sent, got, false)

	// A pass-through acks a Send only once its messages are acked. Tell
	// one from a destination that acks on write by the acks so far.
	passThrough := h.same && holdsFor(h.s.grace, func() bool {
		for _, c := range acks {
			if c != nil && c.calls.Load() > 0 {
				return false
			}
		}
		return true
	})
	if passThrough {
		h.t.Logf("ack-exactly-once: pass-through (one value, no ack before the receiver's): checking that each Send's ack waits for its messages' acks")
	}
	for _, k := range h.rng.Perm(len(got)) {
		i, known := owner[got[k]]
		if known && i < sends {
			recvAcked[i].Add(1)
		}
		if known && twice(i) {
			h.ackTwice(gotAcks[k])
		} else {
			h.ackMsg(gotAcks[k])
		}
	}
	if ok && len(got) == len(sent) {
		h.waitAcked(acks[:sends])
	}
	if !passThrough {
		return
	}
	for i := range sends {
		if early[i].Load() == 0 {
			continue
		}
		why := ""
		if twice(i) {
			why = " (the receiver acked each message twice: a repeated ack must count once)"
		}
		h.t.Errorf("ack-exactly-once: the ack of %s was called before the receiver acked all its messages%s", acks[i].what, why)
	}
}

// noAckOnError calls Send and Recv with a cancelled context.
func noAckOnError[T any](h *harness[T]) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := h.newAck("Send with a cancelled context")
	err := h.send(ctx, c, h.payloads(1)...)
	h.wantCanceled("no-ack-on-error", "Send with a cancelled context", err)
	if err != nil && !errors.Is(err, errNoReturn) {
		c.sendFailed(err) // checkAcks reports a call, even one after Run stopped
	}
	_, ack, err := h.recv(ctx)
	if err == nil {
		h.ackMsg(ack)
	}
	h.wantCanceled("no-ack-on-error", "Recv with a cancelled context", err)
}

// emptySend sends no messages, then a marker that must be all there is to
// receive.
func emptySend[T any](h *harness[T]) {
	ctx, cancel := context.WithTimeout(context.Background(), h.f.Timeout)
	defer cancel()
	c := h.newAck("Send with no messages")
	err := h.send(ctx, c)
	cancel()
	if err != nil {
		if !errors.Is(err, errNoReturn) && !errors.Is(err, errReported) {
			c.sendFailed(err)
			h.t.Errorf("empty-send: Send with no messages returned %v, want nil", err)
			return
		}
		h.sendFailed("Send with no messages", err)
		return
	}
	if !poll(h.f.Timeout, func() bool { return c.calls.Load() > 0 }) {
		h.t.Errorf("empty-send: the ack of a Send with no messages was not called within %v", h.f.Timeout)
	}
	marker := h.payloads(1)
	ctx, cancel = context.WithTimeout(context.Background(), h.f.Timeout)
	defer cancel()
	if err := h.send(ctx, h.newAck("Send of the marker"), marker...); err != nil {
		h.sendFailed("Send of the marker", err)
		return
	}
	got, _ := h.receive(1, true)
	h.compare(marker, got, false)
}

// recvCancel cancels a Recv blocked on an empty source.
func recvCancel[T any](h *harness[T]) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := h.src
	ch := goCall(func() delivery[T] {
		msg, ack, err := src.Recv(ctx)
		return delivery[T]{msg, ack, err}
	})
	blocked := time.NewTimer(50 * time.Millisecond)
	defer blocked.Stop()
	select {
	case o := <-ch:
		h.t.Errorf("recv-cancel: Recv on an empty source returned before its context was cancelled: %s", describe(o))
		return
	case <-blocked.C:
	}
	cancel()
	wait, stop := context.WithTimeout(context.Background(), h.s.prompt)
	defer stop()
	o, ok := await(wait, ch)
	switch {
	case !ok:
		h.t.Errorf("recv-cancel: Recv did not return within %v of its context being cancelled", h.s.prompt)
	case o.panicked || o.v.err == nil || !errors.Is(o.v.err, context.Canceled):
		h.t.Errorf("recv-cancel: Recv returned %s after its context was cancelled, want an error wrapping context.Canceled", describe(o))
	}
}

func describe[T any](o outcome[delivery[T]]) string {
	switch {
	case o.panicked:
		return fmt.Sprintf("a panic (%v)", o.p)
	case o.v.err != nil:
		return fmt.Sprintf("error %q", o.v.err)
	}
	return "a message"
}

// sendCancel keeps sending, with nobody receiving, until its context is
// cancelled after 50ms.
func sendCancel[T any](h *harness[T]) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		n   int // Sends made
		err error
		ack *ackCounter // of the last Send
	}
	dst := h.dst
	msg := h.s.wrap([]byte(h.payload(minPayload)))
	ch := goCall(func() result {
		var c *ackCounter
		for i := range maxSends {
			if ctx.Err() != nil {
				return result{n: i, ack: c}
			}
			c = new(ackCounter)
			if err := dst.Send(ctx, c.fn(), msg); err != nil {
				return result{n: i + 1, err: err, ack: c}
			}
		}
		return result{n: maxSends, ack: c}
	})
	timer := time.NewTimer(50 * time.Millisecond)
	defer timer.Stop()
	select {
	case o := <-ch:
		switch {
		case o.panicked:
			h.t.Errorf("send-cancel: Send panicked: %v", o.p)
		case o.v.err != nil:
			h.t.Errorf("send-cancel: Send %d: %v", o.v.n-1, o.v.err)
		default:
			h.t.Logf("send-cancel: all %d Sends returned before the cancel; none was in flight", o.v.n)
		}
		return
	case <-timer.C:
	}
	cancel()
	wait, stop := context.WithTimeout(context.Background(), h.s.prompt)
	defer stop()
	o, ok := await(wait, ch)
	switch {
	case !ok:
		h.t.Errorf("send-cancel: Send did not return within %v of its context being cancelled", h.s.prompt)
	case o.panicked:
		h.t.Errorf("send-cancel: Send panicked: %v", o.p)
	case o.v.err != nil:
		if !errors.Is(o.v.err, context.Canceled) {
			h.t.Errorf("send-cancel: Send %d returned %v after its context was cancelled, want nil or an error wrapping context.Canceled", o.v.n-1, o.v.err)
		}
		o.v.ack.what = fmt.Sprintf("Send %d, cancelled in flight,", o.v.n-1)
		o.v.ack.sendFailed(o.v.err)
		h.addAck(o.v.ack)
	}
}

// preCancelled calls Recv with a cancelled context after a message was
// sent, and Send with a cancelled context before another is sent: each
// message sent must be the next to arrive, and the cancelled Send's never.
// No more than one message is ever waiting.
func preCancelled[T any](h *harness[T]) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	ps := h.payloads(3)
	before, dropped, after := ps[0], ps[1], ps[2]

	if !h.sendOne("Send before a Recv with a cancelled context", before) {
		return
	}
	p, ack, err := h.recv(cancelled)
	if err == nil {
		h.ackMsg(ack)
	}
	h.wantCanceled("pre-cancelled", "Recv with a cancelled context", err)
	if err != nil || p != before { // else Recv took it, reported above
		p, ack, err := h.next()
		switch {
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF):
			h.t.Errorf("pre-cancelled: the message sent before a Recv with a cancelled context was not received after it (that Recv must not consume it): %v", err)
			return
		case err != nil:
			h.recvFailed(err, 0, 1)
			return
		}
		h.ackMsg(ack)
		if p != before {
			h.t.Errorf("pre-cancelled: received %s, want the message sent before a Recv with a cancelled context", show(p))
		}
	}

	c := h.newAck("Send with a cancelled context")
	err = h.send(cancelled, c, dropped)
	h.wantCanceled("pre-cancelled", "Send with a cancelled context", err)
	if err != nil && !errors.Is(err, errNoReturn) {
		c.sendFailed(err)
	}
	if !h.sendOne("Send after a Send with a cancelled context", after) {
		return
	}
	check := func(p string) {
		switch p {
		case dropped:
			h.t.Errorf("pre-cancelled: Send with a cancelled context wrote its message")
		case after:
		default:
			h.t.Errorf("pre-cancelled: received %s, which was not sent", show(p))
		}
	}
	p, ack, err = h.next()
	if err != nil {
		h.recvFailed(err, 0, 1)
		return
	}
	h.ackMsg(ack)
	check(p)
	if p == dropped { // after is still to come
		if got, _ := h.receive(1, true); len(got) == 1 {
			check(got[0])
		}
		return
	}
	// The dropped message must not come late either.
	quiet, stop := context.WithTimeout(context.Background(), h.s.grace)
	defer stop()
	p, ack, err = h.recv(quiet)
	switch {
	case err == nil:
		h.ackMsg(ack)
		check(p)
	case errors.Is(err, errNoReturn):
		h.t.Errorf("recv-cancel: Recv did not return within %v of its context's deadline", h.s.prompt)
	}
}

// sendOne sends p in a Send described by what, with a deadline of Timeout,
// and reports whether it returned nil.
func (h *harness[T]) sendOne(what, p string) bool {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), h.f.Timeout)
	defer cancel()
	if err := h.send(ctx, h.newAck(what), p); err != nil {
		h.sendFailed(what, err)
		return false
	}
	return true
}

// runStop round-trips a message and stops the runners. Like every
// subtest, it then checks for goroutines left behind.
func runStop[T any](h *harness[T]) {
	if len(h.runs) == 0 {
		h.t.Logf("run-stop: neither the Source nor the Destination is a sluice.Runner; checking for goroutines left behind")
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.f.Timeout)
	defer cancel()
	sent := h.payloads(1)
	c := h.newAck("Send")
	if err := h.send(ctx, c, sent...); err != nil {
		h.sendFailed("Send", err)
		return
	}
	got, _ := h.receive(1, true)
	h.compare(sent, got, false)
	if len(got) == 1 {
		h.waitAcked([]*ackCounter{c})
	}
	h.stop(h.runs)
}

// concurrentRecv receives with four goroutines at once.
func concurrentRecv[T any](h *harness[T]) {
	n := h.f.Messages
	sent := h.payloads(n)
	batches := make([][]string, n)
	acks := make([]*ackCounter, n)
	for i := range sent {
		batches[i] = sent[i : i+1]
		acks[i] = h.newAck(fmt.Sprintf("Send %d", i))
	}
	s := h.goSend(batches, acks)
	var (
		mu      sync.Mutex
		got     []string
		claimed atomic.Int64
		failed  atomic.Bool
		wg      sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for !failed.Load() && claimed.Add(1) <= int64(n) {
				p, ack, err := h.next()
				if err != nil {
					if failed.CompareAndSwap(false, true) {
						mu.Lock()
						k := len(got)
						mu.Unlock()
						h.recvFailed(err, k, n)
					}
					return
				}
				h.ackMsg(ack)
				mu.Lock()
				got = append(got, p)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	ok := h.wait(s, failed.Load())
	h.compare(sent, got, false)
	if ok && len(got) == n {
		h.waitAcked(acks)
	}
}

// concurrentSend sends from four goroutines at once.
func concurrentSend[T any](h *harness[T]) {
	const senders = 4
	n := h.f.Messages
	sent := h.payloads(n)
	batches := make([][][]string, senders)
	acks := make([][]*ackCounter, senders)
	var all []*ackCounter
	for i := range sent {
		c := h.newAck(fmt.Sprintf("Send of message %d", i))
		batches[i%senders] = append(batches[i%senders], sent[i:i+1])
		acks[i%senders] = append(acks[i%senders], c)
		all = append(all, c)
	}
	var ss []*sender
	for i := range senders {
		ss = append(ss, h.goSend(batches[i], acks[i]))
	}
	got, _ := h.receive(n, true)
	ok := true
	for _, s := range ss {
		ok = h.wait(s, len(got) < n) && ok
	}
	h.compare(sent, got, false)
	if ok && len(got) == n {
		h.waitAcked(all)
	}
}

// redelivery receives every message, acks a random half of them, each
// twice and from many goroutines at once, restarts, and expects the other
// half back. A source whose ack is not idempotent, or that commits past a
// message not acked, loses some of them.
func redelivery[T any](h *harness[T]) {
	n := h.f.Messages
	sent := h.payloads(n)
	batches := make([][]string, n)
	acks := make([]*ackCounter, n)
	for i := range sent {
		batches[i] = sent[i : i+1]
		acks[i] = h.newAck(fmt.Sprintf("Send %d", i))
	}
	s := h.goSend(batches, acks)
	got, gotAcks := h.receive(n, false)
	h.wait(s, len(got) < n)
	if len(got) < n {
		h.compare(sent, got, false)
		return
	}
	unacked := make(map[string]bool)
	var ackNow []func()
	for i, k := range h.rng.Perm(n) {
		if i < n/2 {
			ackNow = append(ackNow, gotAcks[k])
		} else {
			unacked[got[k]] = true
		}
	}
	h.ackRace(ackNow, 2)
	h.restart()
	h.receiveAll("redelivery", "received but not acked", sent, unacked)
}

// receiveAll receives until it has had every payload in want, each one
// of sent, or a Recv fails, acking each, and reports those it did not get,
// which are what.
func (h *harness[T]) receiveAll(rule, what string, sent []string, want map[string]bool) {
	h.t.Helper()
	wasSent := make(map[string]bool, len(sent))
	for _, p := range sent {
		wasSent[p] = true
	}
	total := len(want)
	for range 2 * len(sent) {
		if len(want) == 0 {
			return
		}
		p, ack, err := h.next()
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				h.recvFailed(err, total-len(want), total)
			}
			break
		}
		h.ackMsg(ack)
		if !wasSent[p] {
			h.t.Errorf("%s: received %s, which was never sent", rule, show(p))
		}
		delete(want, p)
	}
	for p := range want {
		h.t.Errorf("%s: %d of %d messages %s did not come back after a restart, one is %s", rule, len(want), total, what, show(p))
		break
	}
}

// ackRace calls each ack times times, from many goroutines that start
// at once, in a random order: run with -race, it finds acks that are not
// safe for concurrent use.
func (h *harness[T]) ackRace(acks []func(), times int) {
	const goroutines = 8
	calls := make([]func(), 0, times*len(acks))
	for range times {
		calls = append(calls, acks...)
	}
	h.rng.Shuffle(len(calls), func(i, j int) { calls[i], calls[j] = calls[j], calls[i] })
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			<-start
			for i := g; i < len(calls); i += goroutines {
				h.ackMsg(calls[i])
			}
		})
	}
	close(start)
	wg.Wait()
}

// restartAfterAck sends one message, restarts the moment the Send's ack
// is called, before a write the destination put off could land, and
// expects the message back; three times. An acked message is durably
// written: a restart must not lose it.
func restartAfterAck[T any](h *harness[T]) {
	const rounds = 3
	var sent []string
	for i := range rounds {
		p := h.payloads(1)
		sent = append(sent, p...)
		acked := make(chan struct{})
		c := h.newAck(fmt.Sprintf("Send %d", i))
		c.after = func() { close(acked) }
		ctx, cancel := context.WithTimeout(context.Background(), h.f.Timeout)
		err := h.send(ctx, c, p...)
		if err != nil {
			cancel()
			h.sendFailed(c.what, err)
			return
		}
		select {
		case <-acked:
		case <-ctx.Done():
		}
		cancel()
		if c.calls.Load() == 0 {
			h.t.Errorf("restart-after-ack: the ack of %s was not called within %v while nothing was received (a durable destination acks once it stored the message)", c.what, h.f.Timeout)
			return
		}
		h.restart()
		h.receiveAll("restart-after-ack", "acked just before it", sent, map[string]bool{p[0]: true})
	}
}

// writeFault sends while Storage.Fail makes every write fail: no ack may
// be called until the storage works again (checkStored reports one), and
// any ack called after that must find its message stored. Sends may
// return an error, or nil and ack once a retry succeeds.
func writeFault[T any](h *harness[T]) {
	first := h.newAck("Send before the fault")
	ctx, cancel := context.WithTimeout(context.Background(), h.f.Timeout)
	err := h.send(ctx, first, h.payloads(1)...)
	cancel()
	if err != nil {
		h.sendFailed(first.what, err)
		return
	}
	h.waitAcked([]*ackCounter{first})

	fail := func(on bool) bool {
		if !on {
			h.failing.Store(false)
		}
		if err := h.s.storage.Fail(h.name, on); err != nil {
			h.t.Errorf("write-fault: Storage.Fail(%q, %v): %v", h.name, on, err)
			return false
		}
		h.failing.Store(on)
		return true
	}
	if !fail(true) {
		return
	}
	const sends = 3
	batches := make([][]string, sends)
	acks := make([]*ackCounter, sends)
	for i := range sends {
		batches[i] = h.payloads(1 + i)
		acks[i] = h.newAck(fmt.Sprintf("Send %d while writes fail", i))
	}
	s := h.goSend(batches, acks)
	window := max(10*h.s.grace, 100*time.Millisecond)
	holdsFor(window, func() bool {
		return !slices.ContainsFunc(acks, func(c *ackCounter) bool { return c.calls.Load() > 0 })
	})
	s.cancel()
	<-s.done
	if s.err != nil && !errors.Is(s.err, errNoReturn) && !errors.Is(s.err, errReported) {
		h.t.Logf("write-fault: %s returned %v while writes failed", s.what, s.err)
	}
	fail(false)
	h.t.Logf("write-fault: writes work again; %d of the %d Sends made meanwhile acked so far (any later ack must find its messages stored)", called(acks), sends)
}

// called counts the acks called.
func called(acks []*ackCounter) int {
	n := 0
	for _, c := range acks {
		if c.calls.Load() > 0 {
			n++
		}
	}
	return n
}
