package retry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

const almostOne = 1 - 1e-12

func TestDelay(t *testing.T) {
	huge := Policy{Initial: time.Second, Max: math.MaxInt64, Multiplier: 10}
	tests := []struct {
		name    string
		p       Policy
		attempt int
		r       float64
		want    time.Duration
	}{
		{"defaults, attempt 0, r=0", Policy{}, 0, 0, 0},
		{"defaults, attempt 0, r=0.5", Policy{}, 0, 0.5, 50 * time.Millisecond},
		{"defaults, attempt 3, r=0.5", Policy{}, 3, 0.5, 400 * time.Millisecond},
		{"negative attempt is 0", Policy{}, -5, 0.5, 50 * time.Millisecond},
		{"capped by default max", Policy{}, 20, 0.5, 15 * time.Second},
		{"custom multiplier", Policy{Initial: time.Second, Multiplier: 3}, 2, 0.5, 4500 * time.Millisecond},
		{"multiplier 1 is constant", Policy{Initial: time.Second, Multiplier: 1}, 40, 0.5, 500 * time.Millisecond},
		{"initial above max", Policy{Initial: time.Hour, Max: time.Second}, 0, 0.5, 500 * time.Millisecond},
		{"huge attempt does not overflow", Policy{}, math.MaxInt, almostOne, 30 * time.Second},
		{"max near MaxInt64 does not overflow", huge, 1000, almostOne, time.Duration(almostOne * float64(math.MaxInt64))},
		{"r out of range gives the ceiling", Policy{}, 0, 2, 100 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.p.delay(tc.attempt, tc.r)
			// r×ceiling is computed in float64; allow for its rounding.
			if diff := got - tc.want; diff < -time.Microsecond || diff > time.Microsecond {
				t.Errorf("delay(%d, %v) = %v, want %v", tc.attempt, tc.r, got, tc.want)
			}
			if got < 0 {
				t.Errorf("delay(%d, %v) = %v, want >= 0", tc.attempt, tc.r, got)
			}
		})
	}
}

func TestDelayIsFullJitter(t *testing.T) {
	p := Policy{Initial: 10 * time.Millisecond, Max: time.Second}
	for attempt := range 12 {
		c := p.ceiling(attempt)
		for range 200 {
			if d := p.Delay(attempt); d < 0 || d >= c {
				t.Fatalf("Delay(%d) = %v, want in [0, %v)", attempt, d, c)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		p       Policy
		wantErr bool
	}{
		{"zero value", Policy{}, false},
		{"all set", Policy{Initial: time.Second, Max: time.Minute, Multiplier: 1.5, MaxAttempts: 3}, false},
		{"negative initial", Policy{Initial: -1}, true},
		{"negative max", Policy{Max: -1}, true},
		{"multiplier below 1", Policy{Multiplier: 0.5}, true},
		{"multiplier NaN", Policy{Multiplier: math.NaN()}, true},
		{"multiplier Inf", Policy{Multiplier: math.Inf(1)}, true},
		{"negative max attempts", Policy{MaxAttempts: -1}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.p.Validate(); (err != nil) != tc.wantErr {
				t.Errorf("Validate() = %v, want error: %v", err, tc.wantErr)
			}
		})
	}
}

var (
	errTransient = sluice.Retryable(errors.New("transient"))
	errPermanent = errors.New("permanent")
)

// script returns a fn that returns errs in turn, then nil, and counts
// its calls.
func script(calls *int, errs ...error) func(context.Context) error {
	return func(context.Context) error {
		*calls++
		if *calls <= len(errs) {
			return errs[*calls-1]
		}
		return nil
	}
}

func TestDo(t *testing.T) {
	fast := Policy{Initial: 100 * time.Millisecond, Max: time.Second}
	tests := []struct {
		name        string
		p           Policy
		isRetryable func(error) bool
		errs        []error // what fn returns, in turn; then nil
		cancelAfter int     // cancel ctx during the n-th wait (0: never)
		wantCalls   int
		wantWaits   []time.Duration // with r = 0.5
		check       func(t *testing.T, err error)
	}{
		{
			name:      "success at once",
			p:         fast,
			wantCalls: 1,
			check:     wantNil,
		},
		{
			name:      "retry then success",
			p:         fast,
			errs:      []error{errTransient, errTransient},
			wantCalls: 3,
			wantWaits: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond},
			check:     wantNil,
		},
		{
			name:      "permanent error returned as is",
			p:         fast,
			errs:      []error{errTransient, errPermanent},
			wantCalls: 2,
			wantWaits: []time.Duration{50 * time.Millisecond},
			check: func(t *testing.T, err error) {
				if err != errPermanent {
					t.Errorf("got %v, want the permanent error itself", err)
				}
			},
		},
		{
			name:      "max attempts reached",
			p:         Policy{Initial: 100 * time.Millisecond, MaxAttempts: 3},
			errs:      []error{errTransient, errTransient, errTransient, errTransient},
			wantCalls: 3,
			wantWaits: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, errTransient) {
					t.Errorf("got %v, want it to wrap the last error", err)
				}
				if sluice.IsRetryable(err) {
					t.Errorf("IsRetryable(%v) = true, want false once retries are spent", err)
				}
			},
		},
		{
			name:      "max attempts 1 means no retry",
			p:         Policy{MaxAttempts: 1},
			errs:      []error{errTransient},
			wantCalls: 1,
			check:     wantIs(errTransient),
		},
		{
			name:        "custom isRetryable",
			p:           fast,
			isRetryable: func(error) bool { return true },
			errs:        []error{errPermanent},
			wantCalls:   2,
			wantWaits:   []time.Duration{50 * time.Millisecond},
			check:       wantNil,
		},
		{
			name:      "hint longer than back-off",
			p:         fast,
			errs:      []error{After(errPermanent, 3*time.Second)},
			wantCalls: 2,
			wantWaits: []time.Duration{3 * time.Second},
			check:     wantNil,
		},
		{
			name:      "hint shorter than back-off",
			p:         fast,
			errs:      []error{After(errPermanent, time.Millisecond)},
			wantCalls: 2,
			wantWaits: []time.Duration{50 * time.Millisecond},
			check:     wantNil,
		},
		{
			name:      "hint capped at 10 x max",
			p:         fast,
			errs:      []error{After(errPermanent, time.Hour)},
			wantCalls: 2,
			wantWaits: []time.Duration{10 * time.Second},
			check:     wantNil,
		},
		{
			name:        "ctx cancelled during wait",
			p:           fast,
			errs:        []error{errTransient, errTransient, errTransient},
			cancelAfter: 2,
			wantCalls:   2,
			wantWaits:   []time.Duration{50 * time.Millisecond, 100 * time.Millisecond},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, context.Canceled) || !errors.Is(err, errTransient) {
					t.Errorf("got %v, want it to wrap context.Canceled and the last error", err)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var waits []time.Duration
			fakeSleep := func(ctx context.Context, d time.Duration) error {
				waits = append(waits, d)
				if len(waits) == tc.cancelAfter {
					cancel()
				}
				return ctx.Err()
			}
			var notified []time.Duration
			notify := func(attempt int, d time.Duration, err error) {
				if attempt != len(notified)+1 || err == nil {
					t.Errorf("notify(%d, %v, %v): want attempt %d and an error", attempt, d, err, len(notified)+1)
				}
				notified = append(notified, d)
			}
			calls := 0
			err := do(ctx, tc.p, tc.isRetryable, script(&calls, tc.errs...), notify, fakeSleep, func() float64 { return 0.5 })
			tc.check(t, err)
			if calls != tc.wantCalls {
				t.Errorf("fn called %d times, want %d", calls, tc.wantCalls)
			}
			if !slices.Equal(waits, tc.wantWaits) {
				t.Errorf("waits %v, want %v", waits, tc.wantWaits)
			}
			if !slices.Equal(notified, waits) {
				t.Errorf("notified %v, want %v", notified, waits)
			}
		})
	}
}

func TestDoPreCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := 0
	err := Do(ctx, Policy{}, nil, script(&calls))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if calls != 0 {
		t.Errorf("fn called %d times, want 0", calls)
	}
}

// TestDoRealTimer runs Do with its real timer: a short wait completes and
// a long one is cut short by ctx.
func TestDoRealTimer(t *testing.T) {
	calls := 0
	err := Do(t.Context(), Policy{Initial: time.Millisecond}, nil, script(&calls, errTransient, errTransient))
	if err != nil || calls != 3 {
		t.Errorf("got %v after %d calls, want nil after 3", err, calls)
	}

	ctx, cancel := context.WithCancel(t.Context())
	calls = 0
	fn := func(context.Context) error {
		calls++
		cancel() // Do is about to wait a minute
		return errTransient
	}
	start := time.Now()
	err = Do(ctx, Policy{Initial: time.Minute, Max: time.Minute}, func(error) bool { return true }, fn)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errTransient) {
		t.Errorf("got %v, want context.Canceled and the last error", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("Do took %v after cancel", time.Since(start))
	}
}

func TestAfterAndHint(t *testing.T) {
	base := errors.New("busy")
	tests := []struct {
		name          string
		err           error
		wantHint      time.Duration
		wantOK        bool
		wantRetryable bool
	}{
		{"nil", After(nil, time.Second), 0, false, false},
		{"plain error", base, 0, false, false},
		{"retryable without hint", sluice.Retryable(base), 0, false, true},
		{"after", After(base, time.Second), time.Second, true, true},
		{"wrapped after", fmt.Errorf("http: %w", After(base, 2*time.Second)), 2 * time.Second, true, true},
		{"negative is 0", After(base, -time.Second), 0, true, true},
		{"outermost wins", After(After(base, time.Second), time.Minute), time.Minute, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Hint(tc.err)
			if got != tc.wantHint || ok != tc.wantOK {
				t.Errorf("Hint() = %v, %v, want %v, %v", got, ok, tc.wantHint, tc.wantOK)
			}
			if r := sluice.IsRetryable(tc.err); r != tc.wantRetryable {
				t.Errorf("IsRetryable() = %v, want %v", r, tc.wantRetryable)
			}
			if tc.err != nil && !errors.Is(tc.err, base) {
				t.Errorf("errors.Is(%v, base) = false", tc.err)
			}
		})
	}
	if After(nil, time.Second) != nil {
		t.Error("After(nil) != nil")
	}
}

func wantNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("got %v, want nil", err)
	}
}

func wantIs(target error) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Errorf("got %v, want %v", err, target)
		}
	}
}
