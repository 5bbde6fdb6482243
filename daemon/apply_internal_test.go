package daemon

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

type testX struct {
	X int `json:"x"`
}

// diffRegistry has a source, a destination and a handler type, each with
// one field, x; none is ever built here.
func diffRegistry() *Registry {
	r := NewRegistry()
	RegisterSource(r, "s", "test", func() *testX { return &testX{} },
		func(Env, *testX) (sluice.Source[event.Event], error) { return nil, nil })
	RegisterDestination(r, "d", "test", func() *testX { return &testX{} },
		func(Env, *testX) (sluice.Destination[event.Event], error) { return nil, nil })
	RegisterHandler(r, "h", "test", func() *testX { return &testX{} },
		func(Env, *testX) (sluice.Handler[event.Event, event.Event], error) { return nil, nil })
	return r
}

// diff replaces what changed and what holds it: a destination whose
// dead letter changed, a route whose destination did; a change of "from"
// alone keeps the route; a changed shutdownTimeout replaces the disk
// buffers; a route with handlers is replaced when the list of route
// names changes (its handlers are given it).
func TestDiff(t *testing.T) {
	const base = `{
		"dataDir": "/tmp/x", "shutdownTimeout": "30s",
		"sources": {"s1": {"type": "s"}, "s2": {"type": "s"}},
		"destinations": {
			"a": {"type": "d", "deadLetter": "dl"},
			"b": {"type": "d", "buffer": {"type": "disk"}},
			"dl": {"type": "d"},
			"c": {"type": "d"},
		},
		"routes": [
			{"name": "r1", "from": ["s1"], "to": ["a"]},
			{"name": "r2", "from": ["s2"], "to": ["b"], "handlers": [{"type": "h"}]},
			{"name": "r3", "from": ["s2"], "to": ["c"], "if": "raw != ''"},
		],
	}`
	for _, tc := range []struct {
		name                   string
		from, to               string // replaced in base
		sources, dests, routes string
		rewire                 bool
	}{
		{name: "same", rewire: false},
		{name: "a destination", from: `"b": {"type": "d",`, to: `"b": {"type": "d", "x": 1,`, dests: "b", routes: "r2", rewire: true},
		{name: "its buffer", from: `"buffer": {"type": "disk"}`, to: `"buffer": {"type": "disk", "maxBytes": 1000000000}`, dests: "b", routes: "r2", rewire: true},
		{name: "a dead letter", from: `"dl": {"type": "d"}`, to: `"dl": {"type": "d", "x": 1}`, dests: "a dl", routes: "r1", rewire: true},
		{name: "a handler", from: `[{"type": "h"}]`, to: `[{"type": "h", "x": 1}]`, routes: "r2", rewire: true},
		{name: "a condition", from: `"if": "raw != ''"`, to: `"if": "raw == ''"`, routes: "r3", rewire: true},
		{name: "from alone", from: `"from": ["s1"]`, to: `"from": ["s1", "s2"]`, rewire: true},
		{name: "shutdownTimeout", from: `"30s"`, to: `"10s"`, dests: "b", routes: "r2", rewire: true},
		{name: "route names", from: `"name": "r1"`, to: `"name": "r0"`, routes: "r1 r2", rewire: true},
		{name: "a source", from: `"s1": {"type": "s"}`, to: `"s1": {"type": "s", "x": 1}`, sources: "s1"},
		{name: "a removed route", from: `{"name": "r3", "from": ["s2"], "to": ["c"], "if": "raw != ''"},`, to: ``, routes: "r2 r3", rewire: true}, // r2 has handlers
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := base
			if tc.from != "" {
				if !strings.Contains(base, tc.from) {
					t.Fatalf("%q is not in the base config", tc.from)
				}
				next = strings.Replace(base, tc.from, tc.to, 1)
			}
			r := diffRegistry()
			cur, err := Load([]byte(base), r)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Load([]byte(next), r)
			if err != nil {
				t.Fatal(err)
			}
			c := diff(cur, p)
			sorted := func(s []string) string { s = slices.Clone(s); slices.Sort(s); return strings.Join(s, " ") }
			got := fmt.Sprintf("sources [%s] dests [%s] routes [%s] rewire %v", sorted(c.sources), sorted(c.dests), sorted(c.routes), c.rewire)
			want := fmt.Sprintf("sources [%s] dests [%s] routes [%s] rewire %v", tc.sources, tc.dests, tc.routes, tc.rewire)
			if got != want {
				t.Errorf("diff = %s\nwant   %s", got, want)
			}
			for _, d := range p.Destinations {
				if c.keepDests[d.Name] == slices.Contains(c.dests, d.Name) {
					t.Errorf("destination %s: kept %v, and replaced %v", d.Name, c.keepDests[d.Name], slices.Contains(c.dests, d.Name))
				}
			}
		})
	}
}
