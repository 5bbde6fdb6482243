package throttle_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/throttle"
)

// clock is a fake time that tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func ev(host string) event.Event { return event.Event{Raw: []byte("x"), Host: host} }

func TestThrottle(t *testing.T) {
	type step struct {
		advance time.Duration
		host    string
		n       int // events sent
		pass    int // of which pass
	}
	for _, tc := range []struct {
		name  string
		c     throttle.Config
		steps []step
	}{
		{"burst defaults to the rate, then refills", throttle.Config{Rate: "10/s"}, []step{
			{0, "a", 15, 10}, {100 * time.Millisecond, "a", 5, 1}, {time.Second, "a", 20, 10},
		}},
		{"explicit burst", throttle.Config{Rate: "10/s", Burst: 2}, []step{{0, "a", 5, 2}, {200 * time.Millisecond, "a", 5, 2}}},
		{"per minute, per duration", throttle.Config{Rate: "6/30s"}, []step{{0, "a", 10, 6}, {5 * time.Second, "a", 3, 1}}},
		{"a limit per key", throttle.Config{Rate: "3/s", Key: "host", MaxKeys: 10}, []step{
			{0, "a", 5, 3}, {0, "b", 5, 3}, {0, "a", 1, 0}, {0, "", 4, 3},
		}},
		{"a forgotten key starts with a full bucket", throttle.Config{Rate: "2/h", Key: "host", MaxKeys: 2}, []step{
			{0, "a", 3, 2}, {0, "b", 1, 1}, {0, "c", 1, 1}, // c evicts a, the least recently seen
			{0, "a", 3, 2}, {0, "c", 2, 1},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: time.Unix(1e9, 0)}
			dropped := 0
			h, err := throttle.New(&tc.c, func() { dropped++ }, clk.now)
			if err != nil {
				t.Fatal(err)
			}
			sent, passed := 0, 0
			for i, s := range tc.steps {
				clk.t = clk.t.Add(s.advance)
				got := 0
				for range s.n {
					out, err := h.Handle(context.Background(), sluice.Message[event.Event]{Value: ev(s.host)})
					if err != nil {
						t.Fatal(err)
					}
					got += len(out)
				}
				if got != s.pass {
					t.Errorf("step %d (%+v): %d passed, want %d", i, s, got, s.pass)
				}
				sent, passed = sent+s.n, passed+got
			}
			if dropped != sent-passed {
				t.Errorf("%d counted as dropped, want %d", dropped, sent-passed)
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	for _, tc := range []struct {
		c    throttle.Config
		want string
	}{
		{throttle.Config{Rate: "fast"}, `rate: want "N/s"`},
		{throttle.Config{Rate: "0/s"}, "rate: want a positive whole number"},
		{throttle.Config{Rate: "1.5/s"}, "rate: want a positive whole number"},
		{throttle.Config{Rate: "10/fortnight"}, "rate: want s, m, h or a positive duration"},
		{throttle.Config{Rate: "10/-1s"}, "rate: want s, m, h or a positive duration"},
		{throttle.Config{Rate: "10/s", Burst: -1}, "burst: want 1 or more"},
		{throttle.Config{Rate: "10/s", Key: "nope"}, `key: unknown field "nope"`},
		{throttle.Config{Rate: "10/s", Key: "host", MaxKeys: 0}, "maxKeys: want 1 or more"},
	} {
		if _, err := throttle.New(&tc.c, nil, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
}

func TestSelectAllocatesNothing(t *testing.T) {
	for _, key := range []string{"", "host"} {
		h, _ := throttle.New(&throttle.Config{Rate: "1000/s", Key: key, MaxKeys: 10}, func() {}, nil)
		e := ev("web-1")
		h.Select(context.Background(), &e) // the key's first sighting allocates its bucket
		if n := testing.AllocsPerRun(1000, func() { h.Select(context.Background(), &e) }); n != 0 {
			t.Errorf("key %q: %v allocations per event", key, n)
		}
	}
}

// Many goroutines on one key: no race, and no more pass than the bucket
// holds (the clock stands still).
func TestConcurrent(t *testing.T) {
	clk := &clock{t: time.Unix(1e9, 0)}
	h, _ := throttle.New(&throttle.Config{Rate: "100/h", Key: "host", MaxKeys: 4}, nil, clk.now)
	passed := make(chan int)
	for g := range 8 {
		go func() {
			n := 0
			for i := range 200 {
				e := ev(fmt.Sprint("h", (g+i)%2))
				if ok, _ := h.Select(context.Background(), &e); ok {
					n++
				}
			}
			passed <- n
		}()
	}
	total := 0
	for range 8 {
		total += <-passed
	}
	if total != 200 {
		t.Errorf("%d passed, want 200 (100 for each of 2 keys)", total)
	}
}

func BenchmarkSelect(b *testing.B) {
	for _, key := range []string{"", "host"} {
		b.Run("key="+key, func(b *testing.B) {
			h, _ := throttle.New(&throttle.Config{Rate: "1000000/s", Key: key, MaxKeys: 10000}, func() {}, nil)
			e := ev("web-1")
			b.ReportAllocs()
			for b.Loop() {
				h.Select(context.Background(), &e)
			}
		})
	}
}
