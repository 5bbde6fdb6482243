package sluice_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice"
)

func TestAttributes(t *testing.T) {
	var zero sluice.Attributes
	if v, ok := zero.Get("k"); ok || v != "" || zero.Len() != 0 {
		t.Errorf("zero Attributes: Get = %q, %v; Len = %d", v, ok, zero.Len())
	}
	a := sluice.AttributesOf(sluice.Attr{"a", "1"}, sluice.Attr{"b", "2"}, sluice.Attr{"a", "3"})
	b := a.With("c", "4")
	c := a.With("a", "5")
	for _, tc := range []struct {
		name  string
		attrs sluice.Attributes
		key   string
		want  string
		ok    bool
		len   int
	}{
		{"later pair wins", a, "a", "3", true, 2},
		{"absent", a, "c", "", false, 2},
		{"With adds", b, "c", "4", true, 3},
		{"With leaves the original", a, "c", "", false, 2},
		{"With replaces", c, "a", "5", true, 2},
		{"replace leaves the original", a, "a", "3", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := tc.attrs.Get(tc.key)
			if v != tc.want || ok != tc.ok || tc.attrs.Len() != tc.len || tc.attrs.Value(tc.key) != tc.want {
				t.Errorf("Get(%q) = %q, %v, Len %d; want %q, %v, %d", tc.key, v, ok, tc.attrs.Len(), tc.want, tc.ok, tc.len)
			}
		})
	}
	var got []string
	for k, v := range b.All() {
		got = append(got, k+"="+v)
	}
	if fmt.Sprint(got) != "[a=3 b=2 c=4]" {
		t.Errorf("All = %v", got)
	}
	for k := range b.All() {
		if k == "a" {
			break // stopping early must not panic
		}
	}
}

func TestAttributesReadCostsNothing(t *testing.T) {
	var m sluice.Message[[]byte]
	if n := testing.AllocsPerRun(100, func() { _, _ = m.Attributes.Get("x") }); n != 0 {
		t.Errorf("Get on empty Attributes allocates %v times", n)
	}
	m.Attributes = sluice.AttributesOf(sluice.Attr{"x", "y"})
	if n := testing.AllocsPerRun(100, func() { _, _ = m.Attributes.Get("x") }); n != 0 {
		t.Errorf("Get allocates %v times", n)
	}
}

func TestAckAfter(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 2, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var calls atomic.Int64
			f := sluice.AckAfter(n, func() { calls.Add(1) })
			if n <= 0 {
				if calls.Load() != 1 {
					t.Fatalf("n=%d: ack not called at once", n)
				}
				f()
				if calls.Load() != 1 {
					t.Fatal("the returned func acked again")
				}
				return
			}
			var wg sync.WaitGroup
			for i := range n {
				if calls.Load() != 0 {
					t.Fatalf("acked after %d of %d calls", i, n)
				}
				wg.Go(f)
				wg.Wait()
			}
			if calls.Load() != 1 {
				t.Fatalf("acked %d times after %d calls, want 1", calls.Load(), n)
			}
			for range 3 {
				f()
			}
			if calls.Load() != 1 {
				t.Errorf("extra calls acked again: %d", calls.Load())
			}
		})
	}
	sluice.AckAfter(2, nil)() // nil ack: no panic
	sluice.AckAfter(2, nil)()
	sluice.Ack(nil)
	sluice.AckOnce(nil)()
	// Nothing to count toward: no counter is allocated.
	// Under either name of the no-op ack.
	for _, noop := range []func(){sluice.NoopAck, sluice.Noop} {
		if n := testing.AllocsPerRun(100, func() { sluice.AckOnce(sluice.AckCountdown(3, noop))() }); n != 0 {
			t.Errorf("AckCountdown of a no-op ack allocates %v times", n)
		}
		if n := testing.AllocsPerRun(100, func() { sluice.AckOnce(sluice.AckAfter(3, noop))() }); n != 0 {
			t.Errorf("AckAfter of a no-op ack allocates %v times", n)
		}
	}
}

func TestAckOnceConcurrent(t *testing.T) {
	var calls atomic.Int64
	f := sluice.AckOnce(func() { calls.Add(1) })
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(f)
	}
	wg.Wait()
	if calls.Load() != 1 {
		t.Errorf("AckOnce called ack %d times", calls.Load())
	}
}

type retryFlag struct{ error }

func (retryFlag) Retryable() bool { return true }

func TestRetryable(t *testing.T) {
	base := errors.New("timeout")
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", base, false},
		{"marked", sluice.Retryable(base), true},
		{"wrapped mark", fmt.Errorf("s3: put: %w", sluice.Retryable(base)), true},
		{"own method", fmt.Errorf("x: %w", retryFlag{base}), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sluice.IsRetryable(tc.err); got != tc.want {
				t.Errorf("IsRetryable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
	if sluice.Retryable(nil) != nil {
		t.Error("Retryable(nil) != nil")
	}
	if err := sluice.Retryable(base); !errors.Is(err, base) || err.Error() != "timeout" {
		t.Errorf("Retryable hides its error: %v", err)
	}
}
