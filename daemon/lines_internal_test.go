package daemon

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// lineDest counts what it is sent as runs and as events.
type lineDest struct{ runs, events int }

func (d *lineDest) Send(_ context.Context, ack func(), msgs ...msg) error {
	d.events += len(msgs)
	sluice.Ack(ack)
	return nil
}

func (d *lineDest) SendLines(_ context.Context, ack func(), l *event.Lines) error {
	d.runs++
	sluice.Ack(ack)
	return nil
}

// eventDest takes events only.
type eventDest struct{ runs, events int }

func (d *eventDest) Send(_ context.Context, ack func(), msgs ...msg) error {
	d.events += len(msgs)
	sluice.Ack(ack)
	return nil
}

// A router hands a run on whole only where nothing needs its events: one
// route, without handlers, to LineDestinations only, and no tap.
func TestRouterSendsWholeRunsOnlyWhereNothingNeedsEvents(t *testing.T) {
	l := &event.Lines{Bytes: []byte("a\nbb\nccc\n"), Ends: []int{2, 5, 9}}
	for _, tc := range []struct {
		name  string
		setup func(r *router, a, b *lineDest, e *eventDest)
		whole bool
	}{
		{"plain", func(r *router, a, _ *lineDest, _ *eventDest) {}, true},
		{"two line destinations", func(r *router, a, b *lineDest, _ *eventDest) {
			r.routes[0].to = fanout{counting{a, nil}, counting{b, nil}}
		}, true},
		{"a destination that takes events only", func(r *router, a, _ *lineDest, e *eventDest) {
			r.routes[0].to = fanout{counting{a, nil}, counting{e, nil}}
		}, false},
		{"a handler", func(r *router, _, _ *lineDest, _ *eventDest) {
			r.routes[0].handlers = []namedHandler{{name: "keep", h: keepIf(func(string) bool { return true })}}
		}, false},
		{"two routes", func(r *router, _, b *lineDest, _ *eventDest) {
			r.routes = append(r.routes, route{to: fanout{counting{b, nil}}})
		}, false},
		{"the source tapped", func(r *router, _, _ *lineDest, _ *eventDest) {
			r.tap = &tapPoint{}
			r.tap.subscribe(1000)
		}, false},
		{"the route tapped", func(r *router, _, _ *lineDest, _ *eventDest) {
			r.routes[0].tap = &tapPoint{}
			r.routes[0].tap.subscribe(1000)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, e := &lineDest{}, &lineDest{}, &eventDest{}
			r := &router{gate: newGate(), routes: []route{{to: fanout{counting{a, nil}}}}}
			tc.setup(r, a, b, e)
			acked := 0
			if err := r.SendLines(context.Background(), func() { acked++ }, l); err != nil {
				t.Fatal(err)
			}
			runs, events := a.runs+b.runs+e.runs, a.events+b.events+e.events
			if tc.whole && (runs == 0 || events != 0) || !tc.whole && (runs != 0 || events == 0) {
				t.Errorf("%d runs and %d events sent; whole runs: %v", runs, events, tc.whole)
			}
			if acked != 1 || r.pending.Load() != 0 {
				t.Errorf("acked %d times, %d pending", acked, r.pending.Load())
			}
		})
	}
}
