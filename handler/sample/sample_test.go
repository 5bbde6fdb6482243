package sample_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/sample"
)

func TestSample(t *testing.T) {
	for _, tc := range []struct {
		name     string
		c        sample.Config
		n        int
		ev       func(i int) event.Event
		min, max int // kept
	}{
		{"every 10th", sample.Config{Rate: 10}, 1000, func(int) event.Event { return event.Event{Raw: []byte("x")} }, 100, 100},
		{"rate 1 keeps all", sample.Config{Rate: 1}, 100, func(int) event.Event { return event.Event{} }, 100, 100},
		{"by key: about 1 in 10 keys", sample.Config{Rate: 10, Key: "fields.trace"}, 10000,
			func(i int) event.Event {
				return event.Event{Fields: []event.Field{{Name: "trace", Value: fmt.Sprint("t-", i)}}}
			}, 850, 1150},
		{"by key: events without it use the counter", sample.Config{Rate: 4, Key: "fields.trace"}, 400,
			func(int) event.Event { return event.Event{} }, 100, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dropped := 0
			h, err := sample.New(&tc.c, func() { dropped++ })
			if err != nil {
				t.Fatal(err)
			}
			kept := 0
			for i := range tc.n {
				out, err := h.Handle(context.Background(), sluice.Message[event.Event]{Value: tc.ev(i)})
				if err != nil {
					t.Fatal(err)
				}
				kept += len(out)
			}
			if kept < tc.min || kept > tc.max || kept+dropped != tc.n {
				t.Errorf("kept %d, dropped %d of %d; want %d to %d kept, the rest counted as dropped", kept, dropped, tc.n, tc.min, tc.max)
			}
		})
	}
}

// With a key, all events with one value are kept or dropped together, by
// any handler (another host, after a restart).
func TestSampleByKeyIsDeterministic(t *testing.T) {
	c := sample.Config{Rate: 3, Key: "fields.trace"}
	a, _ := sample.New(&c, nil)
	b, _ := sample.New(&c, nil)
	for i := range 300 {
		e := event.Event{Fields: []event.Field{{Name: "trace", Value: fmt.Sprint(i)}}}
		first, _ := a.Select(context.Background(), &e)
		for range 3 {
			if again, _ := a.Select(context.Background(), &e); again != first {
				t.Fatalf("trace %d: kept %v, then %v", i, first, again)
			}
		}
		if other, _ := b.Select(context.Background(), &e); other != first {
			t.Fatalf("trace %d: one handler keeps %v, another %v", i, first, other)
		}
	}
	// The hash is part of the contract: it must not change between versions.
	if got := sample.Hash("4bf92f3577b34da6a3ce929d0e0e4736"); got != 0x8069bcc9868b03e2 {
		t.Errorf("Hash changed: %#x", got)
	}
}

func TestBadConfig(t *testing.T) {
	for _, tc := range []struct {
		c    sample.Config
		want string
	}{
		{sample.Config{Rate: 0}, "rate: want 1 or more, got 0"},
		{sample.Config{Rate: 2, Key: "nope"}, `key: unknown field "nope"`},
	} {
		if _, err := sample.New(&tc.c, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
}

func TestSelectAllocatesNothing(t *testing.T) {
	for _, key := range []string{"", "fields.trace"} {
		h, _ := sample.New(&sample.Config{Rate: 10, Key: key}, func() {})
		e := event.Event{Raw: []byte("x"), Fields: []event.Field{{Name: "trace", Value: "abc"}}}
		if n := testing.AllocsPerRun(1000, func() { h.Select(context.Background(), &e) }); n != 0 {
			t.Errorf("key %q: %v allocations per event", key, n)
		}
	}
}

func BenchmarkSelect(b *testing.B) {
	for _, key := range []string{"", "fields.trace"} {
		b.Run("key="+key, func(b *testing.B) {
			h, _ := sample.New(&sample.Config{Rate: 10, Key: key}, func() {})
			e := event.Event{Raw: []byte("x"), Fields: []event.Field{{Name: "trace", Value: "4bf92f3577b34da6a3ce929d0e0e4736"}}}
			b.ReportAllocs()
			for b.Loop() {
				h.Select(context.Background(), &e)
			}
		})
	}
}

// BenchmarkHandle is the generic Handler path: a kept event costs the
// returned slice, which the daemon's routes avoid by calling Select.
func BenchmarkHandle(b *testing.B) {
	h, _ := sample.New(&sample.Config{Rate: 10}, func() {})
	m := sluice.Message[event.Event]{Value: event.Event{Raw: []byte("x")}}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = h.Handle(context.Background(), m)
	}
}
