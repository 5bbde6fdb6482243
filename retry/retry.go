// Package retry decides when to try a failed operation again: exponential
// back-off with full jitter, bounded by a [Policy], for errors a
// predicate calls retryable (by default [sluice.IsRetryable]).
//
// It is the one place retry is decided in sluice. A connector wraps its
// transient failures in [sluice.Retryable] (or [After], to carry a server's
// Retry-After) and calls [Do]; a wrapper such as the batch destination
// calls [Do] around its flushes.
package retry

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Defaults for the zero fields of a [Policy].
const (
	DefaultInitial    = 100 * time.Millisecond
	DefaultMax        = 30 * time.Second
	DefaultMultiplier = 2.0
)

// hintCapFactor bounds how long a hint from [After] may hold a retry:
// at most hintCapFactor × Max.
const hintCapFactor = 10

// Policy describes exponential back-off with full jitter. The zero value
// is ready to use: every zero field takes its default. A Policy is a plain
// value, safe to copy and to use from many goroutines at once.
//
// The wait after the n-th failed attempt (n counted from 0) is drawn
// uniformly from [0, c), where the ceiling c is
// min(Max, Initial × Multiplier^n): "full jitter", which spreads the
// retries of many clients that failed together.
type Policy struct {
	// Initial is the ceiling of the first wait. Default 100ms.
	Initial time.Duration `json:"initial"`
	// Max caps the ceiling of every wait. Default 30s.
	Max time.Duration `json:"max"`
	// Multiplier is the factor by which the ceiling grows per attempt.
	// It must be at least 1; 1 gives a constant ceiling. Default 2.
	Multiplier float64 `json:"multiplier"`
	// MaxAttempts is how many times [Do] calls its function in all,
	// counting the first call; 1 means no retry. Default 0: no limit for
	// errors that are retryable.
	MaxAttempts int `json:"maxAttempts"`
}

// Validate reports each field that is out of range, as "FIELD: want
// ..., got ..." (the field's JSON name): a negative duration or
// MaxAttempts, or a Multiplier that is below 1 (other than 0, the
// default), NaN or infinite.
func (p Policy) Validate() error {
	var errs []error
	if p.Initial < 0 {
		errs = append(errs, fmt.Errorf("initial: want 0 or more, got %v", p.Initial))
	}
	if p.Max < 0 {
		errs = append(errs, fmt.Errorf("max: want 0 or more, got %v", p.Max))
	}
	if m := p.Multiplier; m != 0 && (m < 1 || math.IsNaN(m) || math.IsInf(m, 0)) {
		errs = append(errs, fmt.Errorf("multiplier: want a finite number of at least 1, got %v", p.Multiplier))
	}
	if p.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("maxAttempts: want 0 or more, got %d", p.MaxAttempts))
	}
	return errors.Join(errs...)
}

// Delay returns a wait for after attempt failed, attempt counted from 0:
// a random duration in [0, min(Max, Initial × Multiplier^attempt)). A
// negative attempt counts as 0. Delay never overflows: a large attempt
// gives a wait below Max. It is safe for concurrent use.
func (p Policy) Delay(attempt int) time.Duration {
	return p.delay(attempt, rand.Float64())
}

// delay is Delay with the random number r in [0, 1) given.
func (p Policy) delay(attempt int, r float64) time.Duration {
	c := p.ceiling(attempt)
	d := time.Duration(r * float64(c))
	if d < 0 || d > c { // r out of range; cannot happen with rand.Float64
		return c
	}
	return d
}

// ceiling returns min(Max, Initial × Multiplier^attempt), computed in
// float64 so that it cannot overflow.
func (p Policy) ceiling(attempt int) time.Duration {
	initial, maxWait, mult := p.initial(), p.max(), p.multiplier()
	if attempt < 0 {
		attempt = 0
	}
	c := float64(initial) * math.Pow(mult, float64(attempt))
	if math.IsNaN(c) || c >= float64(maxWait) {
		return maxWait
	}
	return time.Duration(c)
}

// hintCap is the longest wait a hint from [After] may impose.
func (p Policy) hintCap() time.Duration {
	maxWait := p.max()
	if maxWait > math.MaxInt64/hintCapFactor {
		return math.MaxInt64
	}
	return hintCapFactor * maxWait
}

func (p Policy) initial() time.Duration {
	if p.Initial <= 0 {
		return DefaultInitial
	}
	return p.Initial
}

func (p Policy) max() time.Duration {
	if p.Max <= 0 {
		return DefaultMax
	}
	return p.Max
}

func (p Policy) multiplier() float64 {
	if p.Multiplier < 1 || math.IsNaN(p.Multiplier) || math.IsInf(p.Multiplier, 0) {
		return DefaultMultiplier
	}
	return p.Multiplier
}

// Under returns the errors of a Validate, flattening joins, each prefixed
// with field and a dot: the policy's errors as a config that holds it at
// field reports them.
func Under(field string, err error) []error {
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			errs = append(errs, Under(field, e)...)
		}
		return errs
	}
	return []error{fmt.Errorf("%s.%w", field, err)}
}
