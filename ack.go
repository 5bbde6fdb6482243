package sluice

import (
	"reflect"
	"sync/atomic"
)

// Ack calls ack if it is not nil.
func Ack(ack func()) {
	if ack != nil {
		ack()
	}
}

// AckAfter returns a function that calls ack when it has been called n
// times; calls past the n-th do nothing. If n <= 0, AckAfter calls ack at
// once and returns a function that does nothing. The result is safe for
// concurrent use.
//
// A destination that writes one Send's messages in n parts acks the Send
// with it: ack fires only when every part is written. For a nil or [Noop]
// ack it returns Noop, which costs no allocation.
func AckAfter(n int, ack func()) func() {
	if n <= 0 {
		Ack(ack)
		return Noop
	}
	if ack == nil || isNoop(ack) {
		return Noop // nothing to count toward
	}
	if n == 1 && ack != nil {
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

// AckOnce returns a function that calls ack the first time it is called and
// does nothing after. The result is safe for concurrent use. If ack is
// already such a function (made by AckOnce, or [Noop]), AckOnce returns it
// as it is, so guarding an ack at every hop of a pipeline costs one
// allocation, not one per hop.
func AckOnce(ack func()) func() {
	if ack == nil {
		return Noop
	}
	if p := reflect.ValueOf(ack).Pointer(); p == oncePC || p == noopPC {
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

// isNoop reports whether ack is [Noop].
func isNoop(ack func()) bool { return reflect.ValueOf(ack).Pointer() == noopPC }

// The code addresses of once's closures and of Noop.
var (
	oncePC = reflect.ValueOf(once(func() {})).Pointer()
	noopPC = reflect.ValueOf(Noop).Pointer()
)

// Noop is an ack function that does nothing, for sources whose messages
// need no acknowledgement.
func Noop() {}
