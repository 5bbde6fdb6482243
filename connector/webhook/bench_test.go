package webhook

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
)

// benchBatch returns n events whose raw lines are 250 bytes.
func benchBatch(n int) []sluice.Message[event.Event] {
	at := time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)
	msgs := make([]sluice.Message[event.Event], n)
	for i := range msgs {
		raw := bytes.Repeat([]byte("x"), 250)
		copy(raw, `<34>1 2026-11-24T23:00:00Z host app 1234 ID47 - user login failed for alice from 10.0.0.`)
		msgs[i].Value = event.Event{Time: at, ReceivedAt: at, Source: "syslog", SourceType: "syslog", Host: "10.0.0.1", Raw: raw}
	}
	return msgs
}

// BenchmarkFlush measures one 1,000-event batch of 250-byte events:
// encoding alone, encoding and gzip, and the whole POST to a local server
// that discards the body. It reports events/s and allocations per event.
func BenchmarkFlush(b *testing.B) {
	const n = 1000
	msgs := benchBatch(n)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	report := func(b *testing.B, mallocs uint64) {
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(mallocs)/float64(b.N*n), "allocs/event")
	}
	measure := func(b *testing.B, f func()) {
		f() // warm the pools
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.ResetTimer()
		for range b.N {
			f()
		}
		b.StopTimer()
		runtime.ReadMemStats(&after)
		report(b, after.Mallocs-before.Mallocs)
	}
	for _, tc := range []struct {
		name string
		gzip bool
		post bool
		rr   bool
	}{
		{name: "encode", gzip: false},
		{name: "encode+gzip", gzip: true},
		{name: "post", post: true},
		{name: "post+gzip", gzip: true, post: true},
		{name: "runreveal-encode", rr: true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			comp := "none"
			if tc.gzip {
				comp = "gzip"
			}
			var d *Destination
			var err error
			if tc.rr {
				d, err = NewRunReveal(RunRevealConfig{WebhookURL: config.Secret(srv.URL)})
			} else {
				d, err = New(Config{URL: config.Secret(srv.URL), Compression: comp})
			}
			if err != nil {
				b.Fatal(err)
			}
			p := d.p
			if tc.post {
				t, err := p.start()
				if err != nil {
					b.Fatal(err)
				}
				defer t.CloseIdleConnections()
				ctx := context.Background()
				measure(b, func() {
					if err := p.flush(ctx, msgs); err != nil {
						b.Fatal(err)
					}
				})
				return
			}
			s := new(scratch)
			var size int
			measure(b, func() {
				body, err := s.encode(msgs, p.enc, p.gzip)
				if err != nil {
					b.Fatal(err)
				}
				size = len(body)
			})
			b.ReportMetric(float64(size)/n, "B/event")
		})
	}
}
