package retry

import (
	"errors"
	"time"
)

// After marks err as retryable, like [sluice.Retryable], and asks that the
// next attempt wait at least d: the Retry-After of an HTTP 429 or 503, for
// example. [Do] waits the longer of its own back-off and d, but never more
// than 10 × [Policy.Max] (5 minutes with the default Max), so that a
// server cannot park a client for hours. A negative d counts as 0.
// After(nil, d) is nil.
func After(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &afterError{err: err, wait: max(d, 0)}
}

// Hint returns the wait that [After] attached to err or to an error it
// wraps, and whether there was one. When several are wrapped, the
// outermost wins.
func Hint(err error) (time.Duration, bool) {
	var a *afterError
	if errors.As(err, &a) {
		return a.wait, true
	}
	return 0, false
}

type afterError struct {
	err  error
	wait time.Duration
}

func (e *afterError) Error() string   { return e.err.Error() }
func (e *afterError) Unwrap() error   { return e.err }
func (e *afterError) Retryable() bool { return true }
