package file_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/connector/syslog/parse"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/cputime"
)

// BenchmarkSendP1 sends parsed RFC 5424 events of about 250 bytes, as the
// syslog source makes them for bench's p1 case, 256 per Send (a
// RecvBatch's worth), to a file destination while it runs, and reports
// the CPU time of the sending thread per event (cpu-ns/ev): the encoding
// and what Send adds to it, not the writes, which run on another thread.
// "raw kept" is the daemon's default format (jsonRaw always), "unparsed"
// the tuned profile's (jsonRaw unparsed); fsync is off in both, so that
// the disk under the test's directory does not hold the sender back.
func BenchmarkSendP1(b *testing.B) {
	msgs := p1Events(256)
	for _, jr := range []struct{ name, jsonRaw string }{{"raw kept", "always"}, {"unparsed", "unparsed"}} {
		b.Run(jr.name, func(b *testing.B) {
			off := false
			d, err := file.New(file.Config{Path: filepath.Join(b.TempDir(), "out.ndjson"), JSONRaw: jr.jsonRaw, Fsync: &off, MaxBytes: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()
			var acked sync.WaitGroup
			runtime.LockOSThread()
			c := cputime.Thread()
			for b.Loop() {
				acked.Add(1)
				if err := d.Send(ctx, acked.Done, msgs...); err != nil {
					b.Fatal(err)
				}
			}
			cpu := cputime.Thread() - c
			runtime.UnlockOSThread()
			acked.Wait()
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*len(msgs)), "cpu-ns/ev")
		})
	}
}

// p1Events returns n events as the syslog source builds them from lines
// like bench's p1 load: the parsed fields point into the raw line.
func p1Events(n int) []sluice.Message[event.Event] {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	str := func(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
	msgs := make([]sluice.Message[event.Event], n)
	for i := range msgs {
		sd := "-"
		if i%3 == 0 {
			sd = fmt.Sprintf(`[timeQuality ip="%d" iut="%d" language="%d"]`, 6481+i, 64109-i, 19678+i)
		}
		raw := fmt.Appendf(nil, "<%d>1 2026-12-06T12:00:%02d.%06dZ ingest-%d app%d %d ID%d %s seq=%010d "+
			"quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat duis aute irure dolor in "+
			"reprehenderit in voluptate velit esse cillum", 8+i%180, i%60, i*37%1000000, i%7, i%5, 1000+i, i%50, sd, i)
		m, err := parse.Parse(raw, parse.RFC5424, now, time.UTC)
		if err != nil {
			panic(err)
		}
		msgs[i].Value = event.Event{Time: m.Timestamp, ReceivedAt: now, Source: "in", SourceType: "syslog", Host: "127.0.0.1:40000", Raw: raw,
			Syslog: event.Syslog{Present: true, Facility: m.Facility, Severity: m.Severity, Version: m.Version,
				Hostname: str(m.Hostname), AppName: str(m.AppName), ProcID: str(m.ProcID), MsgID: str(m.MsgID),
				StructuredData: str(m.StructuredData), Message: str(m.Msg)}}
	}
	return msgs
}
