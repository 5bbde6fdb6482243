package retry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/sluicehq/sluice"
)

// Do calls fn until it returns nil, then returns nil. It stops early and
// returns an error when:
//
//   - fn returns an error that isRetryable rejects: Do returns that error
//     as it is;
//   - fn has been called p.MaxAttempts times: Do returns the last error
//     wrapped, so errors.Is and errors.As still see it, but
//     [sluice.IsRetryable] reports false for the result and an outer
//     retry loop does not retry it again;
//   - ctx is done, before a call or during a wait: Do returns an error
//     that wraps both ctx.Err() and the last error from fn (if any), so
//     errors.Is(err, ctx.Err()) holds. With an already-cancelled ctx, Do
//     does not call fn.
//
// Between calls Do waits [Policy.Delay], or longer if the error carries a
// hint from [After]. It waits with a timer and returns as soon as ctx is
// done. A nil isRetryable means [sluice.IsRetryable].
func Do(ctx context.Context, p Policy, isRetryable func(error) bool, fn func(ctx context.Context) error) error {
	return do(ctx, p, isRetryable, fn, nil, sleep, rand.Float64)
}

// DoNotify is [Do] that calls notify before each wait, with the number of
// calls made so far (1 after the first call), the wait, and the error that
// caused it; a caller logs retries with it. notify is called from Do's
// goroutine and may be nil.
func DoNotify(ctx context.Context, p Policy, isRetryable func(error) bool, fn func(ctx context.Context) error,
	notify func(attempt int, delay time.Duration, err error)) error {
	return do(ctx, p, isRetryable, fn, notify, sleep, rand.Float64)
}

// do is Do with its clock and random source given, for tests.
func do(ctx context.Context, p Policy, isRetryable func(error) bool, fn func(ctx context.Context) error,
	notify func(int, time.Duration, error), sleep func(context.Context, time.Duration) error, rnd func() float64) error {
	if isRetryable == nil {
		isRetryable = sluice.IsRetryable
	}
	var last error
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return stopped(err, last)
		}
		last = fn(ctx)
		switch {
		case last == nil:
			return nil
		case !isRetryable(last):
			return last
		case p.MaxAttempts > 0 && attempt >= p.MaxAttempts:
			return &exhaustedError{attempts: attempt, err: last}
		}
		wait := p.delay(attempt-1, rnd())
		if h, ok := Hint(last); ok {
			wait = max(wait, min(h, p.hintCap()))
		}
		if notify != nil {
			notify(attempt, wait, last)
		}
		if err := sleep(ctx, wait); err != nil {
			return stopped(err, last)
		}
	}
}

// sleep waits for d or until ctx is done, whichever comes first, and
// returns ctx.Err() in the second case.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func stopped(ctxErr, last error) error {
	if last == nil {
		return fmt.Errorf("retry: %w", ctxErr)
	}
	return fmt.Errorf("retry: %w (last error: %w)", ctxErr, last)
}

// exhaustedError is returned by Do when MaxAttempts is reached.
type exhaustedError struct {
	attempts int
	err      error
}

func (e *exhaustedError) Error() string {
	return "retry: gave up after " + strconv.Itoa(e.attempts) + " attempts: " + e.err.Error()
}

func (e *exhaustedError) Unwrap() error { return e.err }

// Retryable reports false: the retries are spent. It shadows the
// retryable mark of the wrapped error for [sluice.IsRetryable].
func (e *exhaustedError) Retryable() bool { return false }
