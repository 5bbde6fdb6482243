package event_test

import (
	"bytes"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/cputime"
)

// in returns sub as a string pointing into raw, as a parser's fields do.
func in(raw []byte, sub string) string {
	i := bytes.Index(raw, []byte(sub))
	if i < 0 {
		panic(sub + " not in raw")
	}
	return unsafe.String(&raw[i], len(sub))
}

// p1Line is a line of the bench harness's P1 load, parsed as the syslog
// source parses it: the fields point into the raw bytes.
func p1Line(raw string, sd string) event.Event {
	b := []byte(raw)
	ev := event.Event{Time: t0, ReceivedAt: t0.Add(time.Second), Source: "in", SourceType: "syslog", Host: "127.0.0.1:43966", Raw: b,
		Syslog: event.Syslog{Present: true, Facility: 9, Version: 1, Hostname: in(b, "ingest-3"), AppName: in(b, "app"),
			ProcID: in(b, "62728"), MsgID: in(b, "ID47"), Message: in(b, "seq=0000000000 I&7*PyEcsFG}bITQ5#[(P~2^PaH[ZGj15:n(SWu1;>UGVO~lz2sWqJji.#dyA%{D*5,i{0h]KaFL{HUeVW|r^ H.ev^j,/z~DE|a.&Gtvh M,.1c.quMN[e(A&P+ko>Q@c+o#uP~MMU)4fnsK|gi.+m,^b,Q&uJK.+9z^T{<!:RZRo{AT,FZO<O7z~J<R;;;,iBsu~jg")}}
	if sd != "" {
		ev.Syslog.StructuredData = in(b, sd)
	}
	return ev
}

const p1Msg = "seq=0000000000 I&7*PyEcsFG}bITQ5#[(P~2^PaH[ZGj15:n(SWu1;>UGVO~lz2sWqJji.#dyA%{D*5,i{0h]KaFL{HUeVW|r^ H.ev^j,/z~DE|a.&Gtvh M,.1c.quMN[e(A&P+ko>Q@c+o#uP~MMU)4fnsK|gi.+m,^b,Q&uJK.+9z^T{<!:RZRo{AT,FZO<O7z~J<R;;;,iBsu~jg"

// otlpRecord is an event of the otlp source with bench/otlp's record: its
// raw bytes are the record's JSON, written as a JSON string.
func otlpRecord() event.Event {
	raw := `{"time":"2025-12-06T05:46:40.000012Z","severityNumber":9,"body":"GET /api/v1/items/12 200 user=alice request_id=7f3a","attributes":{"http.method":"GET","http.status":200},"resource":{"service.name":"bench","host.name":"bench-1"}}`
	return event.Event{Time: t0, ReceivedAt: t0.Add(time.Second), Source: "in", SourceType: "otlp", Host: "bench-1", Raw: []byte(raw)}
}

// nginxLine is an nginx access line sent over RFC 3164 syslog, parsed as
// the syslog source parses it (storetest.Realistic's commonest line):
// its message holds quotes, so it lies in the part of the raw line that
// needed escaping.
func nginxLine() event.Event {
	b := []byte(`<190>Nov 24 23:00:00 web-03.prod.example.net nginx: 203.0.113.7 - - [24/Nov/2026:23:00:00 +0000] "GET /api/v1/orders/48213 HTTP/1.1" 200 5123 "https://www.example.com/cart" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36" 0.123`)
	msg := string(b[bytes.Index(b, []byte("203.")):])
	return event.Event{Time: t0, ReceivedAt: t0.Add(time.Second), Source: "in", SourceType: "syslog", Host: "10.20.0.13", Raw: b,
		Syslog: event.Syslog{Present: true, Facility: 23, Severity: 6, Hostname: in(b, "web-03.prod.example.net"), AppName: in(b, "nginx"),
			Message: in(b, msg)}}
}

// BenchmarkEncode encodes the events the daemon's default file
// destination writes most, as it does (format json, raw kept, one reused
// buffer): P1's syslog lines without and with structured data, an nginx
// access line, and an OTLP record; and P1's line without raw (jsonRaw
// unparsed). Besides ns/op it reports the thread's CPU per event
// (Linux), which a crowded machine inflates less than wall time.
func BenchmarkEncode(b *testing.B) {
	p1 := p1Line("<72>1 2026-11-24T12:00:00.000000Z ingest-3 app 62728 ID47 - "+p1Msg, "")
	for _, tc := range []struct {
		name string
		ev   event.Event
		o    event.JSONOptions
	}{
		{"p1", p1, event.JSONOptions{}},
		{"p1-sd", p1Line(`<72>1 2026-11-24T12:00:00.000000Z ingest-3 app 62728 ID47 [timeQuality ip="6481" iut="64109" language="19678"] `+p1Msg, `[timeQuality ip="6481" iut="64109" language="19678"]`), event.JSONOptions{}},
		{"nginx", nginxLine(), event.JSONOptions{}},
		{"otlp", otlpRecord(), event.JSONOptions{}},
		{"p1-unparsed", p1, event.JSONOptions{OmitParsedRaw: true}}, // jsonRaw unparsed: the tuned profile
	} {
		b.Run(tc.name, func(b *testing.B) {
			ev := tc.ev
			buf := make([]byte, 0, 4096)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			c := cputime.Thread()
			for b.Loop() {
				buf = ev.AppendJSONWith(buf[:0], tc.o)
			}
			b.ReportMetric(float64((cputime.Thread()-c).Nanoseconds())/float64(b.N), "cpu-ns/ev")
			b.SetBytes(int64(len(buf)))
		})
	}
}
