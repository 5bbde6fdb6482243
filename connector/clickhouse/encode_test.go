package clickhouse

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/go-faster/city"
	"github.com/pierrec/lz4/v4"
	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/internal/store"
	"github.com/sluicehq/sluice/connector/internal/storetest"
	"github.com/sluicehq/sluice/event"
)

// TestEncodeInParts checks that a body compressed part by part, as it is
// encoded, with gzip and with ClickHouse's LZ4 blocks, decompresses to the
// rows encoded without compression, for bodies of less than one part, of
// several parts and of a part's size exactly, and for a small body after
// those, from the same scratch.
func TestEncodeInParts(t *testing.T) {
	for _, tc := range []struct {
		compression string
		part        int
	}{{"gzip", store.GzipPart}, {"lz4", nativePart}} {
		t.Run(tc.compression, func(t *testing.T) { testEncodeInParts(t, tc.compression, tc.part) })
	}
}

func testEncodeInParts(t *testing.T, compression string, part int) {
	at := time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)
	msgs := func(n, size int) []sluice.Message[event.Event] {
		out := make([]sluice.Message[event.Event], n)
		for i := range out {
			raw := bytes.Repeat([]byte{'a' + byte(i%26)}, size)
			copy(raw, strconv.Itoa(i))
			out[i].Value = event.Event{Time: at, Source: "s", Raw: raw, File: event.File{Path: "/l", Offset: int64(i)}}
		}
		return out
	}
	var s scratch
	check := func(name string, ms []sluice.Message[event.Event]) {
		t.Helper()
		var plain scratch
		want, err := plain.encode(ms, true, "none")
		if err != nil {
			t.Fatal(err)
		}
		body, err := s.encode(ms, true, compression)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := decompress(compression, body)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: decompressed %d bytes (%v), want the %d bytes encoded plainly", name, len(got), err, len(want))
		}
	}
	check("one row", msgs(1, 100))
	check("many parts", msgs(2000, 300))
	one, _ := (&scratch{}).encode(msgs(1, 500), true, "none")
	check("a part exactly", msgs(part/len(one), 500))
	// The scratch is reused: a small body after large ones carries
	// nothing of theirs.
	check("after another body", msgs(10, 300))
}

// TestCompressSameAsEncode checks that a batch of rows encoded by Send
// (the encoded path, without a dead letter) is sent as the very bytes the
// messages' path (with one) sends for the same events: the same rows, cut
// into the same compressed parts, for every compression, from a reused
// scratch, for batches of one row, of many parts, and of rows escaping
// their SD values or not flattened.
func TestCompressSameAsEncode(t *testing.T) {
	at := time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)
	sd := []sluice.Message[event.Event]{{Value: event.Event{Time: at, Raw: []byte("x"),
		Syslog: event.Syslog{Present: true, StructuredData: `[id@1 a="x\"y" b="\\\]" c="plain"]`, Message: "m"}}}}
	batches := map[string][]sluice.Message[event.Event]{
		"one":        storetest.Realistic(1, at),
		"realistic":  storetest.Realistic(storetest.Pool, at),
		"sd escapes": sd,
		"padded":     storetest.Padded(300, at),
	}
	for _, compression := range []string{"lz4", "gzip", "none"} {
		for _, flat := range []bool{true, false} {
			in := &inserter{flat: flat}
			var s, plain scratch
			for name, msgs := range batches {
				want, err := plain.encode(msgs, flat, compression)
				if err != nil {
					t.Fatal(err)
				}
				var rows []byte
				var ends []int
				for i := range msgs {
					rows = in.appendRow(rows, &msgs[i])
					ends = append(ends, len(rows))
				}
				got, err := s.compress(rows, ends, compression)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s, flat %v, %s: %d bytes sent from the encoded rows, want the %d the messages' path sends", compression, flat, name, len(got), len(want))
				}
			}
		}
	}
}

// decompress returns body decompressed as compression says: gzip, lz4
// (ClickHouse's compressed blocks, each checksum checked, read as the
// server reads them) or none.
func decompress(compression string, body []byte) ([]byte, error) {
	switch compression {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	case "lz4":
		var out []byte
		for len(body) > 0 {
			if len(body) < 25 {
				return nil, fmt.Errorf("%d bytes left, shorter than a block header", len(body))
			}
			size := int(binary.LittleEndian.Uint32(body[17:])) // from the method on
			n := int(binary.LittleEndian.Uint32(body[21:]))
			if body[16] != 0x82 || size < 9 || 16+size > len(body) {
				return nil, fmt.Errorf("bad block header % x", body[:25])
			}
			sum := city.CH128(body[16 : 16+size])
			if binary.LittleEndian.Uint64(body) != sum.Low || binary.LittleEndian.Uint64(body[8:]) != sum.High {
				return nil, errors.New("checksum does not match")
			}
			data := make([]byte, n)
			if k, err := lz4.UncompressBlock(body[25:16+size], data); err != nil || k != n {
				return nil, fmt.Errorf("LZ4 block of %d bytes gave %d (%v)", n, k, err)
			}
			out = append(out, data...)
			body = body[16+size:]
		}
		return out, nil
	}
	return body, nil
}

// BenchmarkBody encodes and compresses batches of 10,000 realistic
// events (rows of about 630 bytes) with each compression: the sender's
// own cost per event (ns/event), without HTTP, and the compression ratio
// (rows' bytes / bytes sent).
func BenchmarkBody(b *testing.B) {
	msgs := storetest.Realistic(10000, time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC))
	plain, _ := (&scratch{}).encode(msgs, true, "none")
	for _, compression := range []string{"lz4", "gzip", "none"} {
		b.Run(compression, func(b *testing.B) {
			var s scratch
			var n int
			for b.Loop() {
				body, err := s.encode(msgs, true, compression)
				if err != nil {
					b.Fatal(err)
				}
				n = len(body)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/event")
			b.ReportMetric(float64(len(plain))/float64(n), "ratio")
		})
	}
}

// FuzzNativeLZ4 compresses any bytes, cut into parts at any points, into
// ClickHouse's blocks from a reused nativeLZ4, and reads them back as the
// server does: the same bytes, every checksum right.
func FuzzNativeLZ4(f *testing.F) {
	f.Add([]byte("{\"raw\":\"a\"}\n"), uint16(5))
	f.Add(bytes.Repeat([]byte("abc"), 30000), uint16(40000))
	f.Add([]byte{}, uint16(0))
	var z nativeLZ4
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		z.Start()
		for rest, n := data, int(cut)+1; len(rest) > 0; rest = rest[min(n, len(rest)):] {
			if err := z.Write(rest[:min(n, len(rest))]); err != nil {
				t.Fatal(err)
			}
		}
		body, _ := z.Finish()
		got, err := decompress("lz4", body)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes in, %d back (%v)", len(data), len(got), err)
		}
	})
}
