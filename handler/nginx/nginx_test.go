package nginx_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/nginx"
)

// received is when the test's events were received, and the time in the
// header of their syslog form: neither is the request's time.
var received = time.Date(2026, 11, 24, 12, 34, 56, 0, time.UTC)

func TestHandle(t *testing.T) {
	for _, tc := range []struct {
		name string
		line string
		want *event.HTTP
		ts   string // the event's time afterwards, RFC 3339; "" for unchanged
	}{
		{"combined", `203.0.113.9 - alice [24/Nov/2026:10:00:00 +0000] "GET /index.html?q=1 HTTP/1.1" 200 612 "https://example.com/" "curl/8.5.0"`,
			&event.HTTP{RemoteAddr: "203.0.113.9", RemoteUser: "alice", Method: "GET", Path: "/index.html", Query: "q=1", Protocol: "HTTP/1.1", Status: 200, Bytes: 612, Referrer: "https://example.com/", UserAgent: "curl/8.5.0"},
			"2026-11-24T10:00:00Z"},
		{"combined, time zone and query with ? and encoded chars", `203.0.113.9 - - [01/Feb/2027:23:59:58 +0130] "GET /a%20b?x=1?y&z=%3F HTTP/1.1" 200 1 "-" "-"`,
			&event.HTTP{RemoteAddr: "203.0.113.9", Method: "GET", Path: "/a%20b", Query: "x=1?y&z=%3F", Protocol: "HTTP/1.1", Status: 200, Bytes: 1},
			"2027-02-01T22:29:58Z"},
		{"combined, empty query", `203.0.113.9 - - [24/Nov/2026:10:00:00 +0000] "GET /a? HTTP/1.1" 200 1 "-" "-"`,
			&event.HTTP{RemoteAddr: "203.0.113.9", Method: "GET", Path: "/a", Protocol: "HTTP/1.1", Status: 200, Bytes: 1}, "2026-11-24T10:00:00Z"},
		{"combined, bad time_local", `203.0.113.9 - - [24/Nov/2026 10:00:00] "GET / HTTP/1.1" 200 1 "-" "-"`, nil, ""},
		{"combined with dashes", `::1 - - [24/Nov/2026:10:00:00 +0000] "POST /api HTTP/2.0" 404 0 "-" "-"`,
			&event.HTTP{RemoteAddr: "::1", Method: "POST", Path: "/api", Protocol: "HTTP/2.0", Status: 404}, "2026-11-24T10:00:00Z"},
		{"combined with request time", `10.0.0.1 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 500 17 "-" "Go-http-client/1.1" 0.013`,
			&event.HTTP{RemoteAddr: "10.0.0.1", Method: "GET", Path: "/", Protocol: "HTTP/1.1", Status: 500, Bytes: 17, UserAgent: "Go-http-client/1.1", RequestTime: 0.013}, "2026-11-24T10:00:00Z"},
		{"escaped quote in agent", `10.0.0.1 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "a\x22b"`,
			&event.HTTP{RemoteAddr: "10.0.0.1", Method: "GET", Path: "/", Protocol: "HTTP/1.1", Status: 200, Bytes: 1, UserAgent: `a\x22b`}, "2026-11-24T10:00:00Z"},
		{"json", `{"remote_addr":"192.0.2.1","remote_user":"","time_local":"24/Nov/2026:09:00:01 -0100","request":"PUT /x?a=b HTTP/1.1","status":"201","body_bytes_sent":"5","http_referer":"","http_user_agent":"k6","request_time":"0.250"}`,
			&event.HTTP{RemoteAddr: "192.0.2.1", Method: "PUT", Path: "/x", Query: "a=b", Protocol: "HTTP/1.1", Status: 201, Bytes: 5, UserAgent: "k6", RequestTime: 0.25},
			"2026-11-24T10:00:01Z"},
		{"json with split request, numbers and time_iso8601", `{"remote_addr":"192.0.2.1","time_iso8601":"2026-11-24T11:00:02+01:00","request_method":"GET","request_uri":"/y?z","server_protocol":"HTTP/1.0","status":302,"bytes_sent":99,"request_time":0.001}`,
			&event.HTTP{RemoteAddr: "192.0.2.1", Method: "GET", Path: "/y", Query: "z", Protocol: "HTTP/1.0", Status: 302, Bytes: 99, RequestTime: 0.001},
			"2026-11-24T10:00:02Z"},
		{"json without a time keeps the event's", `{"request":"GET / HTTP/1.1","status":200}`,
			&event.HTTP{Method: "GET", Path: "/", Protocol: "HTTP/1.1", Status: 200}, ""},
		{"json, bad time_local", `{"time_local":"yesterday","request":"GET / HTTP/1.1","status":200}`, nil, ""},
		{"not an access log", `nginx: [emerg] bind() to 0.0.0.0:80 failed`, nil, ""},
		{"json but not access", `{"level":"info","msg":"x"}`, nil, ""},
		{"broken json", `{"remote_addr":`, nil, ""},
		{"bad status", `1.2.3.4 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" abc 1 "-" "-"`, nil, ""},
		{"empty", ``, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unmatched := 0
			h := nginx.New(func() { unmatched++ })
			for _, syslog := range []bool{true, false} {
				// A file source leaves Time zero; a syslog source sets it
				// from the header.
				ev := event.Event{ReceivedAt: received, Raw: []byte(tc.line)}
				if syslog {
					ev = event.Event{ReceivedAt: received, Time: received, Raw: []byte("<190>Nov 24 12:34:56 web nginx: " + tc.line),
						Syslog: event.Syslog{Present: true, Message: tc.line}}
				}
				out, err := h.Handle(context.Background(), sluice.Message[event.Event]{Value: ev})
				if err != nil || len(out) != 1 {
					t.Fatalf("Handle = %v, %v; want one message", out, err)
				}
				got := out[0].Value.HTTP
				switch {
				case tc.want == nil && got != nil:
					t.Errorf("parsed %+v from a line that is not an access log", got)
				case tc.want != nil && (got == nil || *got != *tc.want):
					t.Errorf("got  %+v\nwant %+v", got, tc.want)
				}
				if string(out[0].Value.Raw) != string(ev.Raw) {
					t.Error("raw changed")
				}
				want := ev.Time
				if tc.ts != "" {
					want, _ = time.Parse(time.RFC3339, tc.ts)
				}
				if got := out[0].Value.Time; !got.Equal(want) {
					t.Errorf("event time %v, want %v", got, want)
				}
			}
			if wantUnmatched := map[bool]int{true: 2, false: 0}[tc.want == nil]; unmatched != wantUnmatched {
				t.Errorf("unmatched counted %d, want %d", unmatched, wantUnmatched)
			}
		})
	}
}

// FuzzHandle: any line gives one event, whose path, when parsed, holds no
// "?" and with its query makes the request's URI again (as the combined
// line has it), and whose time is set only when the line parsed.
func FuzzHandle(f *testing.F) {
	f.Add(`1.2.3.4 - - [24/Nov/2026:10:00:00 +0000] "GET /?a=b HTTP/1.1" 200 1 "-" "-"`)
	f.Add(`1.2.3.4 - - [31/Dec/9999:23:59:60 -2359] "GET /a?b?c HTTP/1.1" 200 1 "-" "-"`)
	f.Add(`{"remote_addr":"1","request":"GET / H","status":"200"}`)
	f.Add(`{"time_local":"24/Nov/2026:10:00:00 +0000","request_method":"GET","request_uri":"/x?y","status":"200"}`)
	f.Add(`{"time_iso8601":"2026-11-24T10:00:00+00:00","request":"GET /?? H","status":1}`)
	h := nginx.New(nil)
	f.Fuzz(func(t *testing.T, line string) {
		out, err := h.Handle(context.Background(), sluice.Message[event.Event]{Value: event.Event{Raw: []byte(line)}})
		if err != nil || len(out) != 1 {
			t.Fatalf("Handle = %v, %v", out, err)
		}
		e := out[0].Value
		if e.HTTP == nil {
			if !e.Time.IsZero() {
				t.Fatalf("time %v set on a line that did not parse", e.Time)
			}
			return
		}
		if strings.Contains(e.HTTP.Path, "?") {
			t.Fatalf("path %q holds a ?", e.HTTP.Path)
		}
		uri := e.HTTP.Path
		if e.HTTP.Query != "" {
			uri += "?" + e.HTTP.Query
		}
		if !strings.HasPrefix(strings.TrimSpace(line), "{") && !strings.Contains(line, uri) { // JSON may escape it
			t.Fatalf("path %q and query %q are not from the line's URI", e.HTTP.Path, e.HTTP.Query)
		}
	})
}

func BenchmarkCombined(b *testing.B) {
	line := `203.0.113.9 - - [24/Nov/2026:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 612 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64)"`
	h := nginx.New(nil)
	m := sluice.Message[event.Event]{Value: event.Event{Syslog: event.Syslog{Present: true, Message: line}}}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = h.Handle(context.Background(), m)
	}
}
