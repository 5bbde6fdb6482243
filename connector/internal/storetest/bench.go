// Package storetest holds what the store destinations' tests share: the
// benchmark of a store's cost per event beside the file destination's,
// and helpers to run a destination, take its dead letters and wait.
package storetest

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/event"
)

// Destination is a destination that runs.
type Destination interface {
	sluice.Destination[event.Event]
	sluice.Runner
}

// Events returns n syslog events whose raw lines are 250 bytes, timed at.
func Events(n int, at time.Time) []sluice.Message[event.Event] {
	msgs := make([]sluice.Message[event.Event], n)
	for i := range msgs {
		raw := bytes.Repeat([]byte("x"), 250)
		copy(raw, "<34>1 2026-11-24T23:00:00Z host app 1234 ID47 - user login failed for alice from 10.0.0."+strconv.Itoa(i))
		msgs[i].Value = event.Event{Time: at, ReceivedAt: at, Source: "syslog", SourceType: "syslog", Host: "10.0.0.1", Raw: raw}
	}
	return msgs
}

// File runs PerEvent on the file destination (fsync per batch, its
// default), the figure every store's cost is held against.
func File(b *testing.B) {
	b.Run("file", func(b *testing.B) {
		d, err := file.New(file.Config{Path: filepath.Join(b.TempDir(), "out.ndjson")})
		if err != nil {
			b.Fatal(err)
		}
		PerEvent(b, d, Events(100, time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)))
	})
}

// PerEvent sends b.N events, len(msgs) per Send (msgs over and over),
// through d while it runs, waits for every ack, and reports events/s and
// the CPU time of the whole process (user+system, every goroutine:
// encoding, compression, the client, and any in-process server) per
// event: one op is one event. It also reports the process's peak RSS so
// far (peak-RSS-MiB): run one case per process (-test.bench with a full
// case name) for a case's own peak.
func PerEvent(b *testing.B, d Destination, msgs []sluice.Message[event.Event]) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var wg sync.WaitGroup
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(msgs) {
		wg.Add(1)
		if err := d.Send(ctx, wg.Done, msgs[:min(len(msgs), b.N-i)]...); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	b.StopTimer()
	cpu := cpuTime() - cpu0
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
	b.ReportMetric(float64(usage().Maxrss)/1024, "peak-RSS-MiB") // Maxrss is in KiB on Linux
}

func usage() syscall.Rusage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru
}

func cpuTime() time.Duration {
	ru := usage()
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// CountLines reads r to its end in a reused buffer and counts its lines:
// what an in-process server that discards bodies does, at little cost.
func CountLines(r io.Reader) int {
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	n := 0
	for {
		k, err := r.Read(*buf)
		n += bytes.Count((*buf)[:k], []byte{'\n'})
		if err != nil {
			return n
		}
	}
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}
