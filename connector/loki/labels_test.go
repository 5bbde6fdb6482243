package loki

import (
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/event"
)

func TestKey(t *testing.T) {
	e := &event.Event{Source: "web", Host: "10.0.0.1", Syslog: event.Syslog{Present: true, AppName: "nginx", Severity: 3},
		Fields: []event.Field{{Name: "unit", Value: `ssh "x".service`}}}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   string
	}{
		{"constant", map[string]string{"job": "sluiced"}, `{job="sluiced"}`},
		{"sorted, templated", map[string]string{"job": "sluiced", "app": "{syslog.appName}", "sev": "s{syslog.severity}"}, `{app="nginx", job="sluiced", sev="s3"}`},
		{"mixed text", map[string]string{"where": "{source}@{host}"}, `{where="web@10.0.0.1"}`},
		{"field, quoted", map[string]string{"unit": "{fields.unit}"}, `{unit="ssh \"x\".service"}`},
		{"escaped braces", map[string]string{"x": "{{lit}}"}, `{x="{lit}"}`},
		{"empty left out", map[string]string{"job": "j", "method": "{http.method}"}, `{job="j"}`},
		{"none left", map[string]string{"method": "{http.method}"}, `{job="sluiced"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := newLabeler(tc.labels)
			if err != nil {
				t.Fatal(err)
			}
			var tmp []byte
			if got := string(l.key(nil, &tmp, e)); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			sel, err := parseSelector(tc.want)
			if err != nil || len(sel) == 0 {
				t.Errorf("parseSelector(%s) = %v, %v", tc.want, sel, err)
			}
		})
	}
}

// TestRules reads Loki's 400 bodies, in the forms of its versions, and
// checks which entries each names.
func TestRules(t *testing.T) {
	at := time.Date(2026, 12, 6, 9, 0, 0, 123456789, time.UTC)
	stream := map[string]string{"job": "x", "app": "web"}
	other := map[string]string{"job": "x", "app": "db"}
	for _, tc := range []struct {
		name   string
		body   string
		labels map[string]string
		ts     time.Time
		line   string
		want   bool
	}{
		{"too old, before the limit", `entry for stream '{app="web", job="x"}' has timestamp too old: 2026-11-20T09:00:00Z, oldest acceptable timestamp is: 2026-11-29T09:00:00Z`,
			stream, at.Add(-8 * 24 * time.Hour), "l", true},
		{"too old, another stream", `entry for stream '{app="web", job="x"}' has timestamp too old: 2026-11-20T09:00:00Z, oldest acceptable timestamp is: 2026-11-29T09:00:00Z`,
			other, at.Add(-8 * 24 * time.Hour), "l", false},
		{"too old, a newer entry", `entry for stream '{app="web", job="x"}' has timestamp too old: 2026-11-20T09:00:00Z, oldest acceptable timestamp is: 2026-11-29T09:00:00Z`,
			stream, at, "l", false},
		{"Loki added service_name", `entry for stream '{app="web", job="x", service_name="web"}' has timestamp too old: 2026-11-20T09:00:00Z, oldest acceptable timestamp is: 2026-11-29T09:00:00Z`,
			stream, at.Add(-8 * 24 * time.Hour), "l", true},
		{"too new", `entry for stream '{app="web", job="x"}' has timestamp too new: 2026-12-06T09:00:00Z`, stream, at, "l", true},
		{"line too long", `Max entry size '262144' bytes exceeded for stream '{app="web", job="x"}' while adding an entry with length '3' bytes`, stream, at, "abc", true},
		{"line too long, other length", `Max entry size '262144' bytes exceeded for stream '{app="web", job="x"}' while adding an entry with length '3' bytes`, stream, at, "ab", false},
		{"ingester, stream at the end", "entry with timestamp 2026-12-06 09:00:00.123456789 +0000 UTC ignored, reason: 'entry too far behind, oldest acceptable timestamp is: 2026-12-06T10:00:00Z',\nuser 'fake', total ignored: 1 out of 3 for stream: {app=\"web\", job=\"x\"}",
			stream, at, "l", true},
		{"ingester, other nanosecond", "entry with timestamp 2026-12-06 09:00:00.123456789 +0000 UTC ignored, reason: 'entry out of order',\nuser 'fake', total ignored: 1 out of 3 for stream: {app=\"web\", job=\"x\"}",
			stream, at.Add(1), "l", false},
		{"ingester, stream per line (old)", "entry with timestamp 2026-12-06 09:00:00.123456789 +0000 UTC ignored, reason: 'entry out of order' for stream: {app=\"web\", job=\"x\"},\ntotal ignored: 1 out of 3",
			stream, at, "l", true},
		{"other stream error", `stream '{app="web", job="x"}' has label value too long: 3000; limit 2048. Label: 'app'`, stream, at, "l", true},
		{"nothing named", `error at least one label pair is required per stream`, stream, at, "l", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := slices.ContainsFunc(rules(tc.body), func(r rule) bool { return r.matches(tc.labels, tc.ts, tc.line) })
			if got != tc.want {
				t.Errorf("named = %v, want %v", got, tc.want)
			}
		})
	}
}

// FuzzParseTemplate: parseTemplate never panics, and a template it
// accepts renders without panicking.
func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"", "x", "{source}", "{{", "}}", "{fields.a}-{host}", "{", "}", "{nope}", "{fields.}"} {
		f.Add(s)
	}
	e := &event.Event{Source: "s", Fields: []event.Field{{Name: "a", Value: "b"}}}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := parseTemplate(s)
		if err == nil {
			_ = tm.render(nil, e)
		}
	})
}

// FuzzRules: reading any 400 body never panics, and parseSelector never
// panics.
func FuzzRules(f *testing.F) {
	f.Add(`entry for stream '{a="b"}' has timestamp too old: 2026-11-20T09:00:00Z, oldest acceptable timestamp is: 2026-11-29T09:00:00Z`)
	f.Add("entry with timestamp 2026-12-06 09:00:00.1 +0000 UTC ignored, reason: 'x',\nuser 'u', total ignored: 1 out of 1 for stream: {a=\"b\"}")
	f.Add(`stream '{a="b\"}' x`)
	f.Fuzz(func(t *testing.T, body string) {
		for _, r := range rules(body) {
			r.matches(map[string]string{"a": "b"}, time.Unix(0, 0), "")
		}
		_, _ = parseSelector(body)
	})
}
