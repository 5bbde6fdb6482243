package event_test

import (
	"encoding/json"
	"reflect"
	"runtime"
	"testing"
	"time"

	goccy "github.com/goccy/go-json"

	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/cputime"
)

// The types below give sample()'s JSON the shape a program using a
// reflection-based encoder would write it with: what BENCH.md's P8
// compares AppendJSON with (goccy/go-json, the fastest it measured, and
// encoding/json). TestMirrorMatches checks that the outputs are the same
// JSON.
type mirrorEvent struct {
	TS         time.Time     `json:"ts"`
	ReceivedAt time.Time     `json:"receivedAt"`
	Source     string        `json:"source,omitempty"`
	SourceType string        `json:"sourceType,omitempty"`
	Host       string        `json:"host,omitempty"`
	Raw        string        `json:"raw,omitempty"`
	Syslog     *mirrorSyslog `json:"syslog,omitempty"`
}

type mirrorSyslog struct {
	Facility       uint8                        `json:"facility"`
	Severity       uint8                        `json:"severity"`
	Version        uint8                        `json:"version,omitempty"`
	Hostname       string                       `json:"hostname,omitempty"`
	AppName        string                       `json:"appName,omitempty"`
	ProcID         string                       `json:"procId,omitempty"`
	MsgID          string                       `json:"msgId,omitempty"`
	StructuredData map[string]map[string]string `json:"structuredData,omitempty"`
	Message        string                       `json:"message,omitempty"`
}

// mirror converts sample()'s event; the benchmarks convert it once, so
// the conversion is not counted against the reflection-based encoders.
func mirror(e event.Event) mirrorEvent {
	s := e.Syslog
	sd := map[string]map[string]string{}
	for id, params := range s.Elements() {
		sd[id] = map[string]string{}
		for name, value := range params {
			sd[id][name] = event.UnescapeSD(value)
		}
	}
	return mirrorEvent{TS: e.Time, ReceivedAt: e.ReceivedAt, Source: e.Source, SourceType: e.SourceType,
		Host: e.Host, Raw: string(e.Raw), Syslog: &mirrorSyslog{Facility: s.Facility, Severity: s.Severity,
			Version: s.Version, Hostname: s.Hostname, AppName: s.AppName, ProcID: s.ProcID, MsgID: s.MsgID,
			StructuredData: sd, Message: s.Message}}
}

func TestMirrorMatches(t *testing.T) {
	for _, ev := range []event.Event{sample(), parsedP1()} {
		m := mirror(ev)
		var want any
		if err := json.Unmarshal(ev.AppendJSON(nil), &want); err != nil {
			t.Fatal(err)
		}
		for name, marshal := range map[string]func(any) ([]byte, error){"encoding/json": json.Marshal, "goccy": goccy.Marshal} {
			b, err := marshal(&m)
			if err != nil {
				t.Fatal(err)
			}
			var got any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s wrote %s\nAppendJSON %s", name, b, ev.AppendJSON(nil))
			}
		}
	}
}

// BenchmarkEncodingJSON and BenchmarkGoccyJSON encode the same JSON as
// BenchmarkAppendJSON, from the mirror types (BENCH.md P8: AppendJSON
// should take at most half of goccy's time, and a sixth of
// encoding/json's).
func BenchmarkEncodingJSON(b *testing.B) {
	m := mirror(sample())
	b.ReportAllocs()
	for b.Loop() {
		_, _ = json.Marshal(&m)
	}
}

func BenchmarkGoccyJSON(b *testing.B) {
	m := mirror(sample())
	b.ReportAllocs()
	for b.Loop() {
		_, _ = goccy.Marshal(&m)
	}
}

// BenchmarkJSONVersus runs AppendJSON, goccy/go-json and encoding/json on
// the same event in turns, a block of encodings each, so that the ratios it
// reports (ours/goccy, ours/std; BENCH.md P8 and issue 20: at most 0.5
// and 1/6) are measured side by side on a noisy machine. One op is one
// encoding by each of the three; the per-encoder times are ns per event.
// AppendJSON appends into a reused buffer, as the destinations do; the
// others return a new slice, as their Marshal does.
//
// The cpu metrics count the CPU time of the benchmark's thread instead of
// wall time, which a crowded machine inflates at random (Linux only). They
// leave out the garbage collector's background work, so they favour the
// encoders that allocate.
func BenchmarkJSONVersus(b *testing.B) {
	for _, tc := range []struct {
		name string
		ev   event.Event
		o    event.JSONOptions
	}{
		{"sample", sample(), event.JSONOptions{}},
		{"parsed", parsedP1(), event.JSONOptions{OmitParsedRaw: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ev := tc.ev
			m := mirror(ev)
			if tc.o.OmitParsedRaw {
				m.Raw = ""
			}
			buf := make([]byte, 0, 4096)
			const block = 256
			var ours, gc, std, oursCPU, gcCPU, stdCPU time.Duration
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for left := b.N; left > 0; left -= block {
				n := min(block, left)
				t, c := time.Now(), cputime.Thread()
				for range n {
					buf = ev.AppendJSONWith(buf[:0], tc.o)
				}
				ours, oursCPU = ours+time.Since(t), oursCPU+cputime.Thread()-c
				t, c = time.Now(), cputime.Thread()
				for range n {
					_, _ = goccy.Marshal(&m)
				}
				gc, gcCPU = gc+time.Since(t), gcCPU+cputime.Thread()-c
				t, c = time.Now(), cputime.Thread()
				for range n {
					_, _ = json.Marshal(&m)
				}
				std, stdCPU = std+time.Since(t), stdCPU+cputime.Thread()-c
			}
			n := float64(b.N)
			b.ReportMetric(float64(oursCPU.Nanoseconds())/n, "ours-cpu-ns/ev")
			b.ReportMetric(float64(gcCPU.Nanoseconds())/n, "goccy-cpu-ns/ev")
			if gcCPU > 0 && stdCPU > 0 {
				b.ReportMetric(float64(oursCPU)/float64(gcCPU), "ours/goccy-cpu")
				b.ReportMetric(float64(oursCPU)/float64(stdCPU), "ours/std-cpu")
			}
			b.ReportMetric(float64(ours.Nanoseconds())/n, "ours-ns/ev")
			b.ReportMetric(float64(gc.Nanoseconds())/n, "goccy-ns/ev")
			b.ReportMetric(float64(std.Nanoseconds())/n, "std-ns/ev")
			b.ReportMetric(float64(ours)/float64(gc), "ours/goccy")
			b.ReportMetric(float64(ours)/float64(std), "ours/std")
		})
	}
}
