package parse_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/internal/onerror"
	"github.com/sluicehq/sluice/handler/parse"
)

// benchLine is a typical structured application log line (about 250 B).
const benchLine = `{"time":"2026-11-24T10:00:00.123Z","level":"info","msg":"request done","service":"checkout","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",` +
	`"http":{"method":"POST","path":"/api/v1/orders","status":201},"duration_ms":12.5,"user":{"id":"u-1234","admin":false},"tags":["a","b"]}`

// BenchmarkJSON is the json format through Handle, the daemon's path; the
// issue's bar is at most twice BenchmarkEncodingJSONMap.
func BenchmarkJSON(b *testing.B) {
	h, _ := parse.New(cfg("json"), onerror.Hooks{})
	m := sluice.Message[event.Event]{Value: event.Event{Raw: []byte(benchLine)}}
	b.SetBytes(int64(len(benchLine)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Handle(context.Background(), m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodingJSONMap unmarshals the same line into a map with
// encoding/json: the reference.
func BenchmarkEncodingJSONMap(b *testing.B) {
	line := []byte(benchLine)
	b.SetBytes(int64(len(benchLine)))
	b.ReportAllocs()
	for b.Loop() {
		var v map[string]any
		if err := json.Unmarshal(line, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFormats(b *testing.B) {
	for _, tc := range []struct {
		c    *parse.Config
		line string
	}{
		{cfg("logfmt"), `ts=2026-11-24T10:00:00Z level=info msg="request done" service=checkout status=201 duration=12.5ms`},
		{cfg("cri"), `2026-11-24T10:00:00.123456789Z stdout F request done status=201`},
		{cfg("docker"), `{"log":"request done status=201\n","stream":"stdout","time":"2026-11-24T10:00:00.123456789Z"}`},
		{cfg("csv", func(c *parse.Config) { c.Columns = []string{"ts", "level", "msg", "status"} }), `2026-11-24T10:00:00Z,info,"request done",201`},
		{cfg("regex", func(c *parse.Config) { c.Pattern = `^(?P<ts>\S+) (?P<level>\w+) (?P<msg>.*)$` }), `2026-11-24T10:00:00Z info request done`},
		{cfg("syslog"), `<34>1 2026-11-24T10:00:00Z web app 12 ID1 - request done status=201`},
	} {
		b.Run(tc.c.Format, func(b *testing.B) {
			h, err := parse.New(tc.c, onerror.Hooks{})
			if err != nil {
				b.Fatal(err)
			}
			m := sluice.Message[event.Event]{Value: event.Event{Raw: []byte(tc.line)}}
			b.SetBytes(int64(len(tc.line)))
			b.ReportAllocs()
			for b.Loop() {
				if out, _ := h.Handle(context.Background(), m); len(out) != 1 {
					b.Fatal("lost the event")
				}
			}
		})
	}
}

// BenchmarkJSONRatio runs the json format and encoding/json on the same
// line in alternating rounds, so that a noisy machine slows both alike,
// and reports the json format's cost as a ratio of encoding/json's (the
// issue's bar: at most 2).
func BenchmarkJSONRatio(b *testing.B) {
	h, _ := parse.New(cfg("json"), onerror.Hooks{})
	m := sluice.Message[event.Event]{Value: event.Event{Raw: []byte(benchLine)}}
	line := []byte(benchLine)
	var ours, theirs time.Duration
	const round = 50
	for b.Loop() {
		t0 := time.Now()
		for range round {
			if _, err := h.Handle(context.Background(), m); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		for range round {
			var v map[string]any
			if err := json.Unmarshal(line, &v); err != nil {
				b.Fatal(err)
			}
		}
		ours, theirs = ours+t1.Sub(t0), theirs+time.Since(t1)
	}
	b.ReportMetric(float64(ours)/float64(theirs), "x-encoding/json")
	b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N*round), "ns/parse")
	b.ReportMetric(float64(theirs.Nanoseconds())/float64(b.N*round), "ns/unmarshal")
}
