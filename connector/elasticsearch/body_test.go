package elasticsearch

import (
	"bytes"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/sluicehq/sluice/connector/internal/store"
	"github.com/sluicehq/sluice/connector/internal/storetest"
	"github.com/sluicehq/sluice/event"
)

// BenchmarkBody encodes 10,000 realistic events as bulk items, in
// batches of 1,000 (the default), and gzips each as the first request of
// a flush does, with each _id mode: the sender's own cost per event
// (ns/event), without HTTP, the compression ratio and the bytes sent
// per event.
func BenchmarkBody(b *testing.B) {
	for _, id := range []string{"auto", "content"} {
		b.Run("id="+id, func(b *testing.B) {
			var gz store.Gzip
			benchBodies(b, id, func(s *scratch) ([]byte, error) { return gz.Compress(s.buf) })
		})
	}
}

// BenchmarkBodyLevels is BenchmarkBody (id auto) with each of
// klauspost/compress's gzip levels that could serve: 1 (BestSpeed, the
// one used), 2, -3 (StatelessCompression) and -2 (HuffmanOnly), and 0
// (NoCompression: stored blocks, what the encoding costs alone).
func BenchmarkBodyLevels(b *testing.B) {
	for _, level := range []int{gzip.BestSpeed, 2, gzip.StatelessCompression, gzip.HuffmanOnly, gzip.NoCompression} {
		b.Run("level="+strconv.Itoa(level), func(b *testing.B) {
			var buf bytes.Buffer
			zw, err := gzip.NewWriterLevel(&buf, level)
			if err != nil {
				b.Fatal(err)
			}
			benchBodies(b, "auto", func(s *scratch) ([]byte, error) {
				buf.Reset()
				zw.Reset(&buf)
				if _, err := zw.Write(s.buf); err != nil {
					return nil, err
				}
				err := zw.Close()
				return buf.Bytes(), err
			})
		})
	}
}

// BenchmarkBodyWrites is BenchmarkBody (id auto, gzip level 1, a reused
// Writer) with the body handed to the compressor in other ways: whole
// (one Write, as flush does), in 32 KiB parts (store.GzipPart, as
// clickhouse compresses while it encodes), one Write per bulk item (as
// if each document were written into the compressor directly), and as
// raw DEFLATE (klauspost's flate level 1, gzip without its header and
// CRC-32: what gzip's framing costs; not a format to send).
func BenchmarkBodyWrites(b *testing.B) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
	whole := func(w io.Writer, s *scratch) error { _, err := w.Write(s.buf); return err }
	for _, tc := range []struct {
		name string
		w    interface {
			io.WriteCloser
			Reset(io.Writer)
		}
		write func(w io.Writer, s *scratch) error
	}{
		{"whole", zw, whole},
		{"parts=32KiB", zw, func(w io.Writer, s *scratch) error {
			for p := s.buf; len(p) > 0; {
				n := min(store.GzipPart, len(p))
				if _, err := w.Write(p[:n]); err != nil {
					return err
				}
				p = p[n:]
			}
			return nil
		}},
		{"per-item", zw, func(w io.Writer, s *scratch) error {
			from := 0
			for _, end := range s.ends {
				if _, err := w.Write(s.buf[from:end]); err != nil {
					return err
				}
				from = end
			}
			return nil
		}},
		{"deflate", fw, whole},
	} {
		b.Run(tc.name, func(b *testing.B) {
			benchBodies(b, "auto", func(s *scratch) ([]byte, error) {
				buf.Reset()
				tc.w.Reset(&buf)
				if err := tc.write(tc.w, s); err != nil {
					return nil, err
				}
				err := tc.w.Close()
				return buf.Bytes(), err
			})
		})
	}
}

// benchBodies encodes the events of BenchmarkBody with id mode id and
// compresses each batch with compress.
func benchBodies(b *testing.B, id string, compress func(*scratch) ([]byte, error)) {
	msgs := storetest.Realistic(10000, time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC))
	c := DefaultConfig()
	c.ID = id
	idx, _ := parseIndex(c.Index)
	bk := &bulker{cfg: c, index: idx, json: event.JSONOptions{}}
	var s scratch
	var in, out int
	b.ResetTimer()
	for b.Loop() {
		in, out = 0, 0
		for k := 0; k < len(msgs); k += c.Batch.Count {
			s.encode(bk, msgs[k:k+c.Batch.Count])
			body, err := compress(&s)
			if err != nil {
				b.Fatal(err)
			}
			in, out = in+len(s.buf), out+len(body)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/event")
	b.ReportMetric(float64(in)/float64(out), "ratio")
	b.ReportMetric(float64(out)/float64(len(msgs)), "gzip-B/event")
}
