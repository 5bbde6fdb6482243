package remap_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/internal/onerror"
	"github.com/sluicehq/sluice/handler/remap"
)

func fields(kv ...string) []event.Field {
	var fs []event.Field
	for i := 0; i < len(kv); i += 2 {
		fs = append(fs, event.Field{Name: kv[i], Value: kv[i+1]})
	}
	return fs
}

func TestRemap(t *testing.T) {
	in := event.Event{Source: "web", Raw: []byte("GET /"), Time: time.Date(2026, 11, 24, 10, 0, 0, 5, time.UTC),
		HTTP: &event.HTTP{Status: 503, RequestTime: 1.25}, Fields: fields("usr", "bob", "level", "warn", "dur_us", "1500", "secret", "x")}
	for _, tc := range []struct {
		name, expr string
		want       []event.Field
	}{
		{"set a new field", `{"team": "payments"}`, fields("usr", "bob", "level", "warn", "dur_us", "1500", "secret", "x", "team", "payments")},
		{"replace in place", `{"level": upper(fields.level)}`, fields("usr", "bob", "level", "WARN", "dur_us", "1500", "secret", "x")},
		{"delete", `{"secret": nil, "nope": nil}`, fields("usr", "bob", "level", "warn", "dur_us", "1500")},
		{"rename", `{"user": fields.usr, "usr": nil}`, fields("level", "warn", "dur_us", "1500", "secret", "x", "user", "bob")},
		{"computed values, in name order", `let ms = int(fields.dur_us) / 1000; {"ms": ms, "slow": ms > 1, "status": http.status, "rt": http.requestTime, "src": source + "!"}`,
			fields("usr", "bob", "level", "warn", "dur_us", "1500", "secret", "x", "ms", "1.5", "rt", "1.25", "slow", "true", "src", "web!", "status", "503")},
		{"times, durations, lists", `{"t": ts, "d": duration("1m30s"), "l": [1, "a"], "m": {"k": 1}}`,
			fields("usr", "bob", "level", "warn", "dur_us", "1500", "secret", "x", "d", "1m30s", "l", `[1,"a"]`, "m", `{"k":1}`, "t", "2026-11-24T10:00:00.000000005Z")},
		{"nothing", `{}`, in.Fields},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := remap.New(&remap.Config{Expr: tc.expr, OnError: "keep"}, onerror.Hooks{Failed: func(err error) { t.Errorf("failed: %v", err) }})
			if err != nil {
				t.Fatal(err)
			}
			before := slices.Clone(in.Fields)
			out, err := h.Handle(context.Background(), sluice.Message[event.Event]{Value: in})
			if err != nil || len(out) != 1 {
				t.Fatalf("Handle = %d, %v", len(out), err)
			}
			if !slices.Equal(out[0].Value.Fields, tc.want) {
				t.Errorf("fields = %q\nwant     %q", out[0].Value.Fields, tc.want)
			}
			if !slices.Equal(in.Fields, before) {
				t.Errorf("the input's fields changed to %q", in.Fields)
			}
		})
	}
}

// Errors at run time follow onError and are counted; never fatal.
func TestRunTimeErrors(t *testing.T) {
	for _, policy := range []string{"keep", "drop", "deadLetter"} {
		var failed, dropped int
		h, err := remap.New(&remap.Config{Expr: `{"n": int(fields.n) + 1}`, OnError: policy}, onerror.Hooks{
			Failed:  func(error) { failed++ },
			Dropped: func() { dropped++ },
			Reject: func(m sluice.Message[event.Event], reason string) sluice.Message[event.Event] {
				m.Attributes = m.Attributes.With("rejected", reason)
				return m
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		in := event.Event{Fields: fields("n", "not a number")}
		out, err := h.Handle(context.Background(), sluice.Message[event.Event]{Value: in})
		if err != nil || failed != 1 {
			t.Fatalf("%s: err %v, failed %d", policy, err, failed)
		}
		switch {
		case policy == "drop" && (len(out) != 0 || dropped != 1):
			t.Errorf("drop: %d out, %d dropped", len(out), dropped)
		case policy == "keep" && (len(out) != 1 || !slices.Equal(out[0].Value.Fields, in.Fields)):
			t.Errorf("keep: %+v", out)
		case policy == "deadLetter" && (len(out) != 1 || !strings.Contains(out[0].Attributes.Value("rejected"), "remap")):
			t.Errorf("deadLetter: %+v", out)
		}
	}
}

func TestCheckedAtStart(t *testing.T) {
	for _, tc := range []struct{ expr, onError, want string }{
		{`fields.a + "x"`, "keep", "expr: expected map"},
		{`{"a": syslog.nope}`, "keep", "expr: type eventexpr.SyslogView has no field nope"},
		{`{"a": `, "keep", "expr: unexpected token"},
		{`{"a": 1}`, "ignore", `onError: want keep, drop or deadLetter, got "ignore"`},
	} {
		if _, err := remap.New(&remap.Config{Expr: tc.expr, OnError: tc.onError}, onerror.Hooks{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.expr, err, tc.want)
		}
	}
}

func BenchmarkRemap(b *testing.B) {
	h, _ := remap.New(&remap.Config{Expr: `{"user": fields.usr, "usr": nil, "level": upper(fields.level)}`, OnError: "keep"}, onerror.Hooks{})
	m := sluice.Message[event.Event]{Value: event.Event{Raw: []byte("x"), Fields: fields("usr", "bob", "level", "warn", "msg", "hello")}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Handle(context.Background(), m); err != nil {
			b.Fatal(err)
		}
	}
}
