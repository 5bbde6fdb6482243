package elasticsearch

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/internal/storetest"
	"github.com/sluicehq/sluice/event"
)

// BenchmarkBody encodes 10,000 realistic events as bulk items, in
// batches of 1,000 (the default), and gzips each as the first request of
// a flush does, with each _id mode: the sender's own cost per event
// (ns/event), without HTTP, the compression ratio and the bytes sent
// per event.
func BenchmarkBody(b *testing.B) {
	msgs := storetest.Realistic(10000, time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC))
	for _, id := range []string{"auto", "content"} {
		b.Run("id="+id, func(b *testing.B) {
			c := DefaultConfig()
			c.ID = id
			idx, _ := parseIndex(c.Index)
			bk := &bulker{cfg: c, index: idx, json: event.JSONOptions{}}
			var s scratch
			var in, out int
			for b.Loop() {
				in, out = 0, 0
				for k := 0; k < len(msgs); k += c.Batch.Count {
					body, err := firstBody(&s, bk, msgs[k:k+c.Batch.Count])
					if err != nil {
						b.Fatal(err)
					}
					in, out = in+len(s.buf), out+len(body)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/event")
			b.ReportMetric(float64(in)/float64(out), "ratio")
			b.ReportMetric(float64(out)/float64(len(msgs)), "gzip-B/event")
		})
	}
}

// firstBody encodes msgs and returns the first request's body, gzipped.
func firstBody(s *scratch, b *bulker, msgs []sluice.Message[event.Event]) ([]byte, error) {
	s.encode(b, msgs)
	return s.gz.Compress(s.buf)
}
