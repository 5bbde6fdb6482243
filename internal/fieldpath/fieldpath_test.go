package fieldpath_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/fieldpath"
)

func TestGet(t *testing.T) {
	sl := event.Event{Raw: []byte("<13>1 - h app - - - hi"), Host: "10.0.0.1",
		Syslog: event.Syslog{Present: true, AppName: "app", Message: "hi"}, Fields: []event.Field{{Name: "a.b", Value: "1"}}}
	plain := event.Event{Raw: []byte("plain line"), HTTP: &event.HTTP{Status: 503, Path: "/x"}}
	for _, tc := range []struct {
		path string
		e    event.Event
		want string
		ok   bool
	}{
		{"message", sl, "hi", true},
		{"message", plain, "plain line", true},
		{"raw", sl, "<13>1 - h app - - - hi", true},
		{"host", sl, "10.0.0.1", true},
		{"host", plain, "", false},
		{"syslog.appName", sl, "app", true},
		{"syslog.appName", plain, "", false},
		{"http.status", plain, "503", true},
		{"http.path", plain, "/x", true},
		{"http.path", sl, "", false},
		{"fields.a.b", sl, "1", true},
		{"fields.nope", sl, "", false},
	} {
		g, err := fieldpath.Compile(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := g(&tc.e); got != tc.want || ok != tc.ok {
			t.Errorf("%s: got %q, %v, want %q, %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
}

func TestUnknownPath(t *testing.T) {
	for _, p := range []string{"", "fields.", "fields", "syslog.severity", "Raw"} {
		if _, err := fieldpath.Compile(p); err == nil || !strings.Contains(err.Error(), "want one of") {
			t.Errorf("Compile(%q) = %v, want an error listing the paths", p, err)
		}
	}
}

func TestGetAllocatesNothing(t *testing.T) {
	e := event.Event{Raw: []byte("x"), Fields: []event.Field{{Name: "k", Value: "v"}}}
	for _, p := range []string{"raw", "message", "fields.k"} {
		g, _ := fieldpath.Compile(p)
		if n := testing.AllocsPerRun(100, func() { g(&e) }); n != 0 {
			t.Errorf("%s: %v allocations", p, n)
		}
	}
}
