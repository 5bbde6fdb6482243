package s3

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// benchBatch is 1,000 events of 250 bytes, from one source in one hour.
func benchBatch() []sluice.Message[event.Event] {
	ts := time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)
	msgs := make([]sluice.Message[event.Event], 1000)
	for i := range msgs {
		raw := fmt.Sprintf(`127.0.0.1 - - [24/Nov/2026:23:00:00 +0000] "GET /req/%06d?x=y HTTP/1.1" 200 6 "https://example.test/" "sluice-bench/1.0" `, i)
		raw += strings.Repeat("x", 250-len(raw))
		msgs[i] = sluice.Message[event.Event]{Value: event.Event{
			Time: ts.Add(time.Duration(i) * time.Millisecond), ReceivedAt: ts, Source: "nginx", SourceType: "syslog",
			Host: "127.0.0.1", Raw: []byte(raw),
		}}
	}
	return msgs
}

func benchWriter(b *testing.B, compression string) *writer {
	b.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("b"); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	b.Cleanup(srv.Close)
	c := DefaultConfig("b")
	c.CustomEndpoint, c.BucketRegion, c.Compression = srv.URL, "us-east-1", compression
	c.AccessKeyID, c.AccessSecretKey = "AKID", "secret"
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	b.Cleanup(hc.CloseIdleConnections)
	d, err := New(c, WithHTTPClient(hc))
	if err != nil {
		b.Fatal(err)
	}
	if err := d.w.connect(context.Background()); err != nil {
		b.Fatal(err)
	}
	return d.w
}

func report(b *testing.B, events int) {
	b.ReportMetric(float64(events*b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(0, "ns/op") // per batch is less telling than per event
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events*b.N), "ns/event")
}

// BenchmarkFlush measures one 1,000-event batch of 250-byte events: encode
// (NDJSON and SHA-256), compress, and the whole flush to gofakes3 over
// loopback HTTP, whose difference from encode+compress is the network
// (and gofakes3's own cost).
func BenchmarkFlush(b *testing.B) {
	msgs := benchBatch()
	b.Run("encode/json+sha256", func(b *testing.B) {
		w := benchWriter(b, "none")
		s := new(scratch)
		b.ReportAllocs()
		for b.Loop() {
			for _, p := range s.partition(msgs) {
				if _, err := w.encode(s, msgs, p); err != nil {
					b.Fatal(err)
				}
			}
		}
		report(b, len(msgs))
	})
	b.Run("encode/json-only", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = buf[:0]
			for i := range msgs {
				buf = msgs[i].Value.AppendJSON(buf)
				buf = append(buf, '\n')
			}
		}
		b.SetBytes(int64(len(buf)))
		report(b, len(msgs))
	})
	b.Run("encode/sha256-only", func(b *testing.B) {
		var buf []byte
		for i := range msgs {
			buf = msgs[i].Value.AppendJSON(buf)
			buf = append(buf, '\n')
		}
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			_ = sha256.Sum256(buf)
		}
		report(b, len(msgs))
	})
	for _, comp := range []string{"gzip", "zstd"} {
		b.Run("compress/"+comp, func(b *testing.B) {
			w := benchWriter(b, comp)
			s := new(scratch)
			o, _ := (&writer{cfg: w.cfg}).encode(s, msgs, s.partition(msgs)[0])
			lines := []byte(strings.Clone(string(o.body)))
			b.SetBytes(int64(len(lines)))
			b.ReportAllocs()
			var out []byte
			for b.Loop() {
				out, _ = w.compress(s, lines)
			}
			b.ReportMetric(float64(len(lines))/float64(len(out)), "ratio")
			report(b, len(msgs))
		})
	}
	for _, comp := range []string{"none", "gzip", "zstd"} {
		b.Run("flush/"+comp, func(b *testing.B) {
			w := benchWriter(b, comp)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := w.flush(ctx, msgs); err != nil {
					b.Fatal(err)
				}
			}
			report(b, len(msgs))
		})
	}
}
