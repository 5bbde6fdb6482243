package filter_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/filter"
)

func TestConditions(t *testing.T) {
	warn := event.Event{Source: "web", Raw: []byte("disk almost full"), Syslog: event.Syslog{Present: true, Severity: 4, AppName: "kernel"}}
	info := event.Event{Source: "web", Raw: []byte("GET /healthcheck"), Syslog: event.Syslog{Present: true, Severity: 6}, HTTP: &event.HTTP{Status: 200, Path: "/healthcheck"}}
	fail := event.Event{Source: "api", HTTP: &event.HTTP{Status: 503, Path: "/api/v1"}, Fields: []event.Field{{Name: "_SYSTEMD_UNIT", Value: "ssh.service"}}}
	for _, tc := range []struct {
		cond string
		ev   event.Event
		want bool
	}{
		{"syslog.severity <= 4", warn, true},
		{"syslog.severity <= 4", info, false},
		{"syslog.severity <= 4", fail, true}, // not syslog: severity reads as 0
		{`http.status >= 500 && http.path startsWith "/api"`, fail, true},
		{`http.status >= 500`, warn, false},
		{`raw contains "healthcheck"`, info, true},
		{`source == "web" and syslog.appName == "kernel"`, warn, true},
		{`fields["_SYSTEMD_UNIT"] == "ssh.service"`, fail, true},
		{`fields["_SYSTEMD_UNIT"] == "ssh.service"`, warn, false},
		{`not parseError`, warn, true},
	} {
		t.Run(tc.cond, func(t *testing.T) {
			for _, keep := range []bool{false, true} {
				dropped := 0
				h, err := filter.New(tc.cond, keep, func() { dropped++ }, nil)
				if err != nil {
					t.Fatal(err)
				}
				out, err := h.Handle(context.Background(), sluice.Message[event.Event]{Value: tc.ev})
				if err != nil {
					t.Fatal(err)
				}
				kept := len(out) == 1
				if want := tc.want == keep; kept != want || dropped != map[bool]int{true: 0, false: 1}[kept] {
					t.Errorf("keep=%v: kept %v (dropped counted %d), want kept %v", keep, kept, dropped, want)
				}
			}
		})
	}
}

func TestBadConditionsFailAtStart(t *testing.T) {
	for _, tc := range []struct{ cond, want string }{
		{"syslog.severity <=", "if: "},
		{"syslog.severity + 1", "expected bool"},
		{"syslog.nope == 1", "nope"},
		{"", "if: "},
	} {
		if _, err := filter.New(tc.cond, false, nil, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q) = %v, want an error containing %q", tc.cond, err, tc.want)
		}
	}
}

// An event the condition fails on is kept by drop and keep alike, and
// reported; never fatal.
func TestRunTimeErrorKeepsTheEvent(t *testing.T) {
	for _, keep := range []bool{false, true} {
		var failed error
		h, err := filter.New(`int(raw) > 5`, keep, func() { t.Error("dropped") }, func(err error) { failed = err })
		if err != nil {
			t.Fatal(err)
		}
		out, err := h.Handle(context.Background(), sluice.Message[event.Event]{Value: event.Event{Raw: []byte("x")}})
		if err != nil || len(out) != 1 || failed == nil {
			t.Errorf("keep=%v: %d out, err %v, reported %v; want the event kept and the failure reported", keep, len(out), err, failed)
		}
	}
}

func BenchmarkDropBySeverity(b *testing.B) {
	h, _ := filter.New("syslog.severity > 4", false, nil, nil)
	m := sluice.Message[event.Event]{Value: event.Event{Raw: []byte("x"), Syslog: event.Syslog{Present: true, Severity: 3}}}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = h.Handle(context.Background(), m)
	}
}
