package parse_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/sluicehq/sluice/connector/syslog/parse"
)

// average5424 is leodido/go-syslog's "average message" (214 B), the one
// BENCH.md section 3 measures it on.
const average5424 = `<29>1 2016-02-21T04:32:57+00:00 web1 someservice - - [origin x-service="someservice"][meta sequenceId="14125553"] 127.0.0.1 - - 1456029177 "GET /v1/ok HTTP/1.1" 200 145 "-" "hacheck 0.9.0" 24306 127.0.0.1:40124 575`

// average3164 is an RFC 3164 message of about the same size (209 B).
const average3164 = `<38>Oct 11 22:14:15 mymachine.example.com sshd[12345]: Accepted publickey for deploy from 192.0.2.10 port 52814 ssh2: ED25519 SHA256:Zm9vYmFyYmF6cXV4cXV1eHh5enp5MTIzNDU2Nzg5MGFi; session opened for user deploy`

var sink parse.Message

func BenchmarkParse5424(b *testing.B) {
	in := []byte(average5424)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := parse.Parse(in, parse.Auto, now, nil)
		if err != nil {
			b.Fatal(err)
		}
		sink = m
	}
}

func BenchmarkParse3164(b *testing.B) {
	in := []byte(average3164)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := parse.Parse(in, parse.Auto, now, nil)
		if err != nil {
			b.Fatal(err)
		}
		sink = m
	}
}

// BenchmarkParse5424Varied parses lines shaped like the bench harness's
// P1 load, whose header fields vary in length from line to line, as a
// real stream's do: a parser that branches per byte mispredicts the end
// of each field, which one repeated message (BenchmarkParse5424) hides.
func BenchmarkParse5424Varied(b *testing.B) {
	r := rand.New(rand.NewPCG(42, 42))
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	lines := make([][]byte, 4096)
	for i := range lines {
		sd := "-"
		if i%3 == 0 {
			sd = fmt.Sprintf(`[%s %s="%d"]`, pick("origin", "meta", "exampleSDID@32473"), pick("ip", "eventSource", "sequenceId"), r.IntN(100000))
		}
		lines[i] = fmt.Appendf(nil, "<%d>1 2026-11-24T12:00:%02d.%06dZ %s %s %d %s %s seq=%010d %s", r.IntN(192), i%60, r.IntN(1e6),
			pick("web-02", "ingest-3", "cache-7", "db-primary-01"), pick("app", "sshd", "dockerd", "postgres", "nginx"),
			r.IntN(65536), pick("ID47", "GC", "AUTH", "-"), sd, i, strings.Repeat("text ", 1+r.IntN(40)))
	}
	parseLines(b, lines, parse.Parse)
}

// parseLines parses lines in turn with fn, b.N of them, and reports
// bytes per line.
func parseLines(b *testing.B, lines [][]byte, fn func([]byte, parse.Format, time.Time, *time.Location) (parse.Message, error)) {
	size := 0
	for _, l := range lines {
		size += len(l)
	}
	b.SetBytes(int64(size / len(lines)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m, err := fn(lines[i%len(lines)], parse.Auto, now, nil)
		if err != nil {
			b.Fatal(err)
		}
		sink = m
		i++
	}
}

var leodidoSink any

// BenchmarkLeodido5424 is the reference for BenchmarkParse5424 (BENCH.md
// P8: ours ≤ 0.25× its ns/op).
func BenchmarkLeodido5424(b *testing.B) {
	in := []byte(average5424)
	p := rfc5424.NewParser()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := p.Parse(in)
		if err != nil {
			b.Fatal(err)
		}
		leodidoSink = m
	}
}

// BenchmarkLeodido3164 is the reference for BenchmarkParse3164.
func BenchmarkLeodido3164(b *testing.B) {
	in := []byte(average3164)
	p := rfc3164.NewParser(rfc3164.WithYear(rfc3164.Year{YYYY: 2025}))
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := p.Parse(in)
		if err != nil {
			b.Fatal(err)
		}
		leodidoSink = m
	}
}

// BenchmarkParser5424Stream parses a stream shaped like the bench
// harness's P1 load with a Parser, as the source does: timestamps a
// millisecond apart with six-digit fractions (so lines mostly share
// their second), header fields of varied lengths, structured data in
// one line of three with one to three params.
func BenchmarkParser5424Stream(b *testing.B) {
	r := rand.New(rand.NewPCG(42, 42))
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	base := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	lines := make([][]byte, 4096)
	for i := range lines {
		sd := "-"
		if i%3 == 0 {
			sd = "[" + pick("origin", "meta", "exampleSDID@32473")
			for range 1 + r.IntN(3) {
				sd += fmt.Sprintf(` %s="%d"`, pick("ip", "eventSource", "sequenceId"), r.IntN(100000))
			}
			sd += "]"
		}
		lines[i] = base.Add(time.Duration(i)*time.Millisecond).AppendFormat(fmt.Appendf(nil, "<%d>1 ", r.IntN(192)), "2006-01-02T15:04:05.000000Z07:00")
		lines[i] = fmt.Appendf(lines[i], " %s %s %d %s %s seq=%010d %s", pick("web-02", "ingest-3", "cache-7", "db-primary-01"),
			pick("app", "sshd", "dockerd", "postgres", "nginx"), 1+r.IntN(65535), pick("ID47", "GC", "AUTH", "-"), sd, i,
			strings.Repeat("text ", 1+r.IntN(40)))
	}
	var p parse.Parser
	parseLines(b, lines, p.Parse)
}
