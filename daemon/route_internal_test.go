package daemon

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// keepIf is a Selector keeping the events whose raw bytes satisfy f.
type keepIf func(raw string) bool

func (k keepIf) Select(_ context.Context, e *event.Event) (bool, error) { return k(string(e.Raw)), nil }

func (k keepIf) Handle(ctx context.Context, m msg) ([]msg, error) {
	if ok, _ := k.Select(ctx, &m.Value); ok {
		return []msg{m}, nil
	}
	return nil, nil
}

func msgs(raws ...string) []msg {
	var ms []msg
	for _, r := range raws {
		ms = append(ms, msg{Value: event.Event{Raw: []byte(r)}})
	}
	return ms
}

func raws(ms []msg) []string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m.Value.Raw))
	}
	return out
}

func TestSel(t *testing.T) {
	notB := keepIf(func(r string) bool { return r != "b" })
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{"a", "c"}, []string{"a", "c"}},
		{[]string{"b", "a", "b", "c"}, []string{"a", "c"}},
		{[]string{"a", "b"}, []string{"a"}},
		{[]string{"b", "b"}, nil},
		{nil, nil},
	} {
		in := msgs(tc.in...)
		out, err := sel(context.Background(), notB, in)
		if err != nil || !slices.Equal(raws(out), tc.want) {
			t.Errorf("sel(%q) = %q, %v, want %q", tc.in, raws(out), err, tc.want)
		}
		if !slices.Equal(raws(in), tc.in) {
			t.Errorf("sel changed its input to %q", raws(in))
		}
	}
}

type nopDest struct{ n int }

func (d *nopDest) Send(_ context.Context, ack func(), ms ...msg) error {
	d.n += len(ms)
	sluice.Ack(ack)
	return nil
}

// BenchmarkRouteSelect measures a route whose one handler is a Selector,
// one event per Send as from a source without batches: the allocations
// per event are the route's, not the handler's.
func BenchmarkRouteSelect(b *testing.B) {
	for _, keepAll := range []bool{true, false} {
		b.Run(fmt.Sprint("keepAll=", keepAll), func(b *testing.B) {
			i := 0
			h := keepIf(func(string) bool { i++; return keepAll || i%2 == 0 })
			d := &nopDest{}
			r := &router{routes: []route{{handlers: []namedHandler{{name: "h", h: h, sel: h}}, to: d}}}
			ms := msgs("x")
			b.ReportAllocs()
			for b.Loop() {
				if err := r.Send(context.Background(), sluice.NoopAck, ms...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// splitRejected moves exactly the messages marked by Reject, keeps the
// others in order, never changes its input, and allocates only when it
// finds a rejected one.
func TestSplitRejected(t *testing.T) {
	for _, tc := range []struct {
		name           string
		in             []string // "!x" is x rejected
		kept, rejected []string
	}{
		{"none", nil, nil, nil},
		{"all kept", []string{"a", "b"}, []string{"a", "b"}, nil},
		{"first", []string{"!a", "b", "c"}, []string{"b", "c"}, []string{"a"}},
		{"middle", []string{"a", "!b", "c"}, []string{"a", "c"}, []string{"b"}},
		{"last", []string{"a", "b", "!c"}, []string{"a", "b"}, []string{"c"}},
		{"all", []string{"!a", "!b"}, nil, []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in []msg
			for _, s := range tc.in {
				if r, ok := strings.CutPrefix(s, "!"); ok {
					in = append(in, Reject(msgs(r)[0], "bad"))
				} else {
					in = append(in, msgs(s)[0])
				}
			}
			before := raws(in)
			prior := msgs("earlier")
			kept, rejected := splitRejected(in, prior)
			if got := raws(kept); !slices.Equal(got, tc.kept) {
				t.Errorf("kept %q, want %q", got, tc.kept)
			}
			if got := raws(rejected); !slices.Equal(got, append([]string{"earlier"}, tc.rejected...)) {
				t.Errorf("rejected %q, want earlier then %q", got, tc.rejected)
			}
			if !slices.Equal(raws(in), before) {
				t.Errorf("input changed to %q", raws(in))
			}
		})
	}
	in := msgs("a", "b", "c")
	if n := testing.AllocsPerRun(100, func() { splitRejected(in, nil) }); n != 0 {
		t.Errorf("%v allocations with nothing rejected, want 0", n)
	}
}
