package sluice

import "sync/atomic"

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
// with it: ack fires only when every part is written.
func AckAfter(n int, ack func()) func() {
	if n <= 0 {
		Ack(ack)
		return Noop
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
// does nothing after. The result is safe for concurrent use.
func AckOnce(ack func()) func() {
	if ack == nil {
		return Noop
	}
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			ack()
		}
	}
}

// Noop is an ack function that does nothing, for sources whose messages
// need no acknowledgement.
func Noop() {}
