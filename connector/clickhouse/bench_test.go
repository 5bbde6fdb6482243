package clickhouse_test

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
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/clickhouse"
	"github.com/sluicehq/sluice/connector/clickhouse/clickhousetest"
	"github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/event"
)

// benchEvents returns n events whose raw lines are 250 bytes.
func benchEvents(n int) []sluice.Message[event.Event] {
	at := time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)
	msgs := make([]sluice.Message[event.Event], n)
	for i := range msgs {
		raw := bytes.Repeat([]byte("x"), 250)
		copy(raw, `<34>1 2026-11-24T23:00:00Z host app 1234 ID47 - user login failed for alice from 10.0.0.`)
		msgs[i].Value = event.Event{Time: at, ReceivedAt: at, Source: "syslog", SourceType: "syslog", Host: "10.0.0.1", Raw: raw}
	}
	return msgs
}

type runDest interface {
	sluice.Destination[event.Event]
	sluice.Runner
}

// benchDestination sends b.N events in Sends of 100 to d while it runs,
// waits for every ack, and reports events/s and the CPU time of the
// process (user+system, every goroutine: encoding, compression, the
// HTTP client, and an in-process test server) per event.
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

// BenchmarkPerEvent compares the cost per event of the clickhouse
// destination (gzip on, batches of 10,000) with the file destination's
// (fsync per batch), for 250-byte events: against an in-process server
// that discards the body, and against a real clickhouse-server (its own
// CPU is not counted). Run with -benchtime=200000x.
func BenchmarkPerEvent(b *testing.B) {
	b.Run("file", func(b *testing.B) {
		d, err := file.New(file.Config{Path: filepath.Join(b.TempDir(), "out.ndjson")})
		if err != nil {
			b.Fatal(err)
		}
		benchDestination(b, d)
	})
	b.Run("clickhouse-discard", func(b *testing.B) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
		}))
		defer srv.Close()
		d, err := clickhouse.New(clickhouse.Config{URL: srv.URL, Table: "logs"})
		if err != nil {
			b.Fatal(err)
		}
		benchDestination(b, d)
	})
	b.Run("clickhouse-server", func(b *testing.B) {
		srv := clickhousetest.Start(b)
		srv.MustQuery(b, "CREATE TABLE IF NOT EXISTS logs (ts DateTime, receivedAt DateTime, source String, host String, raw String) ENGINE = MergeTree ORDER BY ts")
		d, err := clickhouse.New(clickhouse.Config{URL: srv.URL, Table: "logs", Batch: batch.Config{Count: 10000, Bytes: 8 << 20, Age: time.Second}})
		if err != nil {
			b.Fatal(err)
		}
		benchDestination(b, d)
	})
}
