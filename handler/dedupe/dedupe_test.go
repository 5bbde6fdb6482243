package dedupe_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/dedupe"
)

func ev(raw, host string, kv ...string) event.Event {
	e := event.Event{Raw: []byte(raw), Host: host}
	for i := 0; i < len(kv); i += 2 {
		e.Fields = append(e.Fields, event.Field{Name: kv[i], Value: kv[i+1]})
	}
	return e
}

func TestDedupe(t *testing.T) {
	for _, tc := range []struct {
		name   string
		c      *dedupe.Config
		events []event.Event
		want   string // kept (k) or dropped (d), per event
	}{
		{"by message", dedupe.Defaults(), []event.Event{ev("a", ""), ev("b", ""), ev("a", "other host"), ev("c", "")}, "kkdk"},
		{"by fields", &dedupe.Config{Fields: []string{"host", "fields.id"}, Window: 10},
			[]event.Event{ev("x", "h1", "id", "1"), ev("y", "h1", "id", "1"), ev("x", "h2", "id", "1"), ev("x", "h1", "id", "2")}, "kdkk"},
		{"missing differs from empty", &dedupe.Config{Fields: []string{"fields.a", "fields.b"}, Window: 10},
			[]event.Event{ev("", "", "a", ""), ev("", ""), ev("", "", "b", ""), ev("", "", "a", "")}, "kkkd"},
		{"values do not run together", &dedupe.Config{Fields: []string{"fields.a", "fields.b"}, Window: 10},
			[]event.Event{ev("", "", "a", "xy", "b", "z"), ev("", "", "a", "x", "b", "yz")}, "kk"},
		{"the window forgets the least recent", &dedupe.Config{Fields: []string{"message"}, Window: 2},
			// the repeat of a makes it recent again, so c evicts b, not a
			[]event.Event{ev("a", ""), ev("b", ""), ev("a", ""), ev("c", ""), ev("a", ""), ev("b", "")}, "kkdkdk"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dropped := 0
			h, err := dedupe.New(tc.c, func() { dropped++ })
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for _, e := range tc.events {
				out, err := h.Handle(context.Background(), sluice.Message[event.Event]{Value: e})
				if err != nil {
					t.Fatal(err)
				}
				got.WriteString(map[int]string{0: "d", 1: "k"}[len(out)])
			}
			if got.String() != tc.want || dropped != strings.Count(tc.want, "d") {
				t.Errorf("got %s (%d counted), want %s", got.String(), dropped, tc.want)
			}
		})
	}
}

// Of identical events handled at once, exactly one passes.
func TestConcurrentRepeats(t *testing.T) {
	h, _ := dedupe.New(dedupe.Defaults(), nil)
	var mu sync.Mutex
	kept := map[string]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 100 {
				e := ev(fmt.Sprint("line ", i), "")
				if ok, _ := h.Select(context.Background(), &e); ok {
					mu.Lock()
					kept[string(e.Raw)]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for i := range 100 {
		if n := kept[fmt.Sprint("line ", i)]; n != 1 {
			t.Errorf("line %d kept %d times, want once", i, n)
		}
	}
}

func TestBadConfig(t *testing.T) {
	for _, tc := range []struct {
		c    dedupe.Config
		want string
	}{
		{dedupe.Config{Window: 10}, "fields: want at least one"},
		{dedupe.Config{Fields: []string{"host", "nope"}, Window: 10}, `fields[1]: unknown field "nope"`},
		{dedupe.Config{Fields: []string{"host"}}, "window: want 1 or more, got 0"},
	} {
		if _, err := dedupe.New(&tc.c, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
}

func BenchmarkSelect(b *testing.B) {
	h, _ := dedupe.New(&dedupe.Config{Fields: []string{"message"}, Window: 10000}, func() {})
	lines := make([]event.Event, 20000)
	for i := range lines {
		lines[i] = ev(fmt.Sprintf("2026-11-24T10:00:00Z info request %d done in 12ms", i%15000), "")
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.Select(context.Background(), &lines[i%len(lines)])
		i++
	}
}
