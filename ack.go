package sluice

import (
	"sync/atomic"
	"unsafe"
)

// Ack calls ack if it is not nil.
func Ack(ack func()) {
	if ack != nil {
		ack()
	}
}

// AckCountdown returns a function that counts down from n, one per call,
// and calls ack when it reaches zero; calls past the n-th do nothing. It
// counts calls, not messages: a caller that may call it twice for one part
// must guard each part's call with [AckOnce]. If n <= 0, AckCountdown
// calls ack at once and returns a function that does nothing. The result
// is safe for concurrent use.
//
// A destination that writes one Send's messages in n parts acks the Send
// with it: ack fires only when every part is written. For a nil or
// [NoopAck] ack it returns NoopAck, which costs no allocation.
func AckCountdown(n int, ack func()) func() {
	if n <= 0 {
		Ack(ack)
		return NoopAck
	}
	if ack == nil || isNoop(ack) {
		return NoopAck // nothing to count toward
	}
	if n == 1 {
		return AckOnce(ack)
	}
	var left atomic.Int64
	left.Store(int64(n))
	return func() {
		if left.Add(-1) == 0 {
			Ack(ack)
		}
	}
}

// AckAfter is the former name of [AckCountdown], kept so that existing code
// compiles; new code uses AckCountdown.
func AckAfter(n int, ack func()) func() { return AckCountdown(n, ack) }

// AckOnce returns a function that calls ack the first time it is called and
// does nothing after. The result is safe for concurrent use. If ack is
// already such a function (made by AckOnce, or [NoopAck]), AckOnce returns
// it as it is, so guarding an ack at every hop of a pipeline costs one
// allocation, not one per hop.
func AckOnce(ack func()) func() {
	if ack == nil {
		return NoopAck
	}
	if p := codeOf(ack); p == oncePC || p == noopPC || p == oldNoopPC {
		return ack
	}
	return once(ack)
}

// once makes AckOnce's closures. It is never inlined, so that its function
// literal is compiled once and every closure it makes shares one code
// address.
//
//go:noinline
func once(ack func()) func() {
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			ack()
		}
	}
}

// isNoop reports whether ack is [NoopAck] (or [Noop]).
func isNoop(ack func()) bool {
	p := codeOf(ack)
	return p == noopPC || p == oldNoopPC
}

// codeOf returns f's code address, 0 if f is nil: a func value points
// to a closure whose first word is its code, which is what reflect's
// Value.Pointer returns for it, read here without reflect's checks (they
// cost more than the rest of a Processor's look at a batch's acks).
func codeOf(f func()) uintptr {
	if f == nil {
		return 0
	}
	return **(**uintptr)(unsafe.Pointer(&f))
}

// The code addresses of once's closures, of NoopAck and of Noop.
var (
	oncePC    = codeOf(once(func() {}))
	noopPC    = codeOf(NoopAck)
	oldNoopPC = codeOf(Noop)
)

// NoopAck is an ack function that does nothing, for sources whose messages
// need no acknowledgement.
func NoopAck() {}

// Noop is the former name of [NoopAck], kept so that existing code compiles;
// new code uses NoopAck.
func Noop() {}
