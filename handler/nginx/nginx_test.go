package nginx_test

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/nginx"
)

func TestHandle(t *testing.T) {
	for _, tc := range []struct {
		name string
		line string
		want *event.HTTP
	}{
		{"combined", `203.0.113.9 - alice [24/Nov/2026:10:00:00 +0000] "GET /index.html?q=1 HTTP/1.1" 200 612 "https://example.com/" "curl/8.5.0"`,
			&event.HTTP{RemoteAddr: "203.0.113.9", RemoteUser: "alice", Method: "GET", Path: "/index.html?q=1", Protocol: "HTTP/1.1", Status: 200, Bytes: 612, Referrer: "https://example.com/", UserAgent: "curl/8.5.0"}},
		{"combined with dashes", `::1 - - [24/Nov/2026:10:00:00 +0000] "POST /api HTTP/2.0" 404 0 "-" "-"`,
			&event.HTTP{RemoteAddr: "::1", Method: "POST", Path: "/api", Protocol: "HTTP/2.0", Status: 404}},
		{"combined with request time", `10.0.0.1 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 500 17 "-" "Go-http-client/1.1" 0.013`,
			&event.HTTP{RemoteAddr: "10.0.0.1", Method: "GET", Path: "/", Protocol: "HTTP/1.1", Status: 500, Bytes: 17, UserAgent: "Go-http-client/1.1", RequestTime: 0.013}},
		{"escaped quote in agent", `10.0.0.1 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "a\x22b"`,
			&event.HTTP{RemoteAddr: "10.0.0.1", Method: "GET", Path: "/", Protocol: "HTTP/1.1", Status: 200, Bytes: 1, UserAgent: `a\x22b`}},
		{"json", `{"remote_addr":"192.0.2.1","remote_user":"","request":"PUT /x HTTP/1.1","status":"201","body_bytes_sent":"5","http_referer":"","http_user_agent":"k6","request_time":"0.250"}`,
			&event.HTTP{RemoteAddr: "192.0.2.1", Method: "PUT", Path: "/x", Protocol: "HTTP/1.1", Status: 201, Bytes: 5, UserAgent: "k6", RequestTime: 0.25}},
		{"json with split request and numbers", `{"remote_addr":"192.0.2.1","request_method":"GET","request_uri":"/y","server_protocol":"HTTP/1.0","status":302,"bytes_sent":99,"request_time":0.001}`,
			&event.HTTP{RemoteAddr: "192.0.2.1", Method: "GET", Path: "/y", Protocol: "HTTP/1.0", Status: 302, Bytes: 99, RequestTime: 0.001}},
		{"not an access log", `nginx: [emerg] bind() to 0.0.0.0:80 failed`, nil},
		{"json but not access", `{"level":"info","msg":"x"}`, nil},
		{"broken json", `{"remote_addr":`, nil},
		{"bad status", `1.2.3.4 - - [x] "GET / HTTP/1.1" abc 1 "-" "-"`, nil},
		{"empty", ``, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unmatched := 0
			h := nginx.New(func() { unmatched++ })
			for _, syslog := range []bool{true, false} {
				ev := event.Event{Raw: []byte(tc.line)}
				if syslog {
					ev = event.Event{Raw: []byte("<190>Nov 24 10:00:00 web nginx: " + tc.line), Syslog: event.Syslog{Present: true, Message: tc.line}}
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
			}
			if wantUnmatched := map[bool]int{true: 2, false: 0}[tc.want == nil]; unmatched != wantUnmatched {
				t.Errorf("unmatched counted %d, want %d", unmatched, wantUnmatched)
			}
		})
	}
}

func FuzzHandle(f *testing.F) {
	f.Add(`1.2.3.4 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`)
	f.Add(`{"remote_addr":"1","request":"GET / H","status":"200"}`)
	h := nginx.New(nil)
	f.Fuzz(func(t *testing.T, line string) {
		out, err := h.Handle(context.Background(), sluice.Message[event.Event]{Value: event.Event{Raw: []byte(line)}})
		if err != nil || len(out) != 1 {
			t.Fatalf("Handle = %v, %v", out, err)
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
