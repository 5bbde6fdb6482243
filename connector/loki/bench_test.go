package loki_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/connector/loki"
	"github.com/sluicehq/sluice/connector/loki/lokitest"
	"github.com/sluicehq/sluice/event"
)

// benchEvents returns n events whose raw lines are 250 bytes, of 4 apps,
// timed now (Loki refuses old entries).
func benchEvents(n int) []sluice.Message[event.Event] {
	at := time.Now()
	apps := []string{"web", "db", "auth", "cron"}
	msgs := make([]sluice.Message[event.Event], n)
	for i := range msgs {
		raw := bytes.Repeat([]byte("x"), 250)
		copy(raw, `<34>1 2026-11-24T23:00:00Z host app 1234 ID47 - user login failed for alice from 10.0.0.`)
		msgs[i].Value = event.Event{Time: at.Add(time.Duration(i)), ReceivedAt: at, Source: "syslog", SourceType: "syslog", Host: "10.0.0.1", Raw: raw,
			Syslog: event.Syslog{Present: true, AppName: apps[i%len(apps)]}}
	}
	return msgs
}

type runDest interface {
	sluice.Destination[event.Event]
	sluice.Runner
}

// benchDestination sends b.N events in Sends of 100 to d while it runs,
// waits for every ack, and reports events/s and the CPU time of the
// process (user+system: encoding, the HTTP client, and an in-process
// server) per event.
func benchDestination(b *testing.B, d runDest) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	msgs := benchEvents(100)
	var wg sync.WaitGroup
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(msgs) {
		m := msgs[:min(len(msgs), b.N-i)]
		wg.Add(1)
		if err := d.Send(ctx, wg.Done, m...); err != nil {
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
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPerEvent compares the cost per event of the loki destination
// (labels with a template, 4 streams, 1 MiB pushes) with the file
// destination's, for 250-byte events: against a server that discards the
// body, and against lokitest, whose decoding and storing run in the same
// process and are counted. Run with -benchtime=200000x.
func BenchmarkPerEvent(b *testing.B) {
	b.Run("file", func(b *testing.B) {
		d, err := file.New(file.Config{Path: filepath.Join(b.TempDir(), "out.ndjson")})
		if err != nil {
			b.Fatal(err)
		}
		benchDestination(b, d)
	})
	labels := map[string]string{"job": "bench", "app": "{syslog.appName}"}
	b.Run("loki-discard", func(b *testing.B) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusNoContent)
		}))
		defer srv.Close()
		d, err := loki.New(loki.Config{URL: srv.URL, Labels: labels})
		if err != nil {
			b.Fatal(err)
		}
		benchDestination(b, d)
	})
	b.Run("lokitest", func(b *testing.B) {
		srv := lokitest.Start(b)
		d, err := loki.New(loki.Config{URL: srv.URL, Labels: labels})
		if err != nil {
			b.Fatal(err)
		}
		benchDestination(b, d)
	})
}
