package splunk_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/connector/splunk"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
)

// BenchmarkPerEvent sends 250-byte events, 100 per Send, through the
// destination's Run until every Send is acked, beside the file
// destination (fsync per batch, its default) doing the same: one op is
// one event. It reports the process's CPU time per event (client and the
// in-process server together; the server reads the body and answers
// Success, so that the figure is the destination's cost).
func BenchmarkPerEvent(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		countLines(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"text":"Success","code":0}`)
	}))
	defer srv.Close()
	b.Run("file", func(b *testing.B) {
		d, err := file.New(file.Config{Path: filepath.Join(b.TempDir(), "out.ndjson")})
		if err != nil {
			b.Fatal(err)
		}
		perEvent(b, d)
	})
	b.Run("splunk_hec", func(b *testing.B) {
		d, err := splunk.New(splunk.Config{URL: config.Secret(srv.URL), Token: token})
		if err != nil {
			b.Fatal(err)
		}
		perEvent(b, d)
	})
}

// countLines reads r to its end in a reused buffer and counts its lines.
func countLines(r io.Reader) int {
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

type runnerDestination interface {
	sluice.Destination[event.Event]
	sluice.Runner
}

func perEvent(b *testing.B, d runnerDestination) {
	const perSend = 100
	at := time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)
	msgs := make([]sluice.Message[event.Event], perSend)
	for i := range msgs {
		raw := bytes.Repeat([]byte("x"), 250)
		copy(raw, "<34>1 2026-11-24T23:00:00Z host app 1234 ID47 - user login failed for alice from 10.0.0."+strconv.Itoa(i))
		msgs[i].Value = event.Event{Time: at, ReceivedAt: at, Source: "bench", SourceType: "syslog", Host: "10.0.0.1", Raw: raw}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	sends := (b.N + perSend - 1) / perSend
	acked := make(chan struct{}, sends)
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	for range sends {
		if err := d.Send(ctx, func() { acked <- struct{}{} }, msgs...); err != nil {
			b.Fatal(err)
		}
	}
	for range sends {
		<-acked
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(syscall.TimevalToNsec(ru1.Utime) - syscall.TimevalToNsec(ru0.Utime) +
		syscall.TimevalToNsec(ru1.Stime) - syscall.TimevalToNsec(ru0.Stime))
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(sends*perSend), "cpu-ns/event")
	b.ReportMetric(float64(sends*perSend)/b.Elapsed().Seconds(), "events/s")
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
