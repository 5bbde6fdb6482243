package eventexpr_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/eventexpr"
)

func TestView(t *testing.T) {
	recv := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	e := event.Event{ReceivedAt: recv, Source: "web", SourceType: "file", Host: "h", Raw: []byte("GET /"), Flags: event.ParseError,
		File:   event.File{Path: "/var/log/a.log", Offset: 42},
		Syslog: event.Syslog{Present: true, Facility: 3, Severity: 4, AppName: "app", Message: "m"},
		HTTP:   &event.HTTP{Method: "GET", Status: 404, RequestTime: 0.5}, Fields: []event.Field{{Name: "a.b", Value: "1"}}}
	for _, cond := range []string{
		`ts == receivedAt`, // no event time: the receipt time
		`source == "web" && sourceType == "file" && host == "h" && raw == "GET /" && parseError`,
		`file.path endsWith "a.log" && file.offset == 42`,
		`syslog.facility == 3 && syslog.severity == 4 && syslog.appName == "app" && syslog.message == "m"`,
		`http.method == "GET" && http.status == 404 && http.requestTime == 0.5`,
		`fields["a.b"] == "1" && fields.nope == ""`,
	} {
		p, err := eventexpr.CompileCond(cond)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := p.Cond(&e); !ok || err != nil {
			t.Errorf("%s = %v, %v on %+v", cond, ok, err, e)
		}
	}
	// What an event lacks reads as zero.
	p, _ := eventexpr.CompileCond(`syslog.severity == 0 && http.status == 0 && host == "" && len(fields) == 0`)
	if ok, err := p.Cond(&event.Event{}); !ok || err != nil {
		t.Errorf("empty event: %v, %v", ok, err)
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`http.status`, "expected bool"},
		{`http.nope == 1`, "has no field nope"},
		{`1 +`, "unexpected token"},
		// sluice's copy of expr looks up no methods (third_party/expr):
		// a method call fails here, at start, not when an event comes.
		{`ts.Year() == 2026`, "type time.Time has no method Year"},
		{`duration("1h").Hours() == 1`, "type time.Duration has no method Hours"},
	} {
		if _, err := eventexpr.CompileCond(tc.src); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.src, err, tc.want)
		}
	}
}
