package clickhouse

import (
	"bytes"
	"compress/gzip"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/internal/store"
	"github.com/sluicehq/sluice/event"
)

// TestEncodeGzipInParts checks that a body gzipped part by part, as it is
// encoded, unzips to the rows encoded without compression, for bodies of
// less than one part, of several parts and of a part's size exactly, and
// for a small body after those, from the same scratch.
func TestEncodeGzipInParts(t *testing.T) {
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
		want, err := plain.encode(ms, true, false)
		if err != nil {
			t.Fatal(err)
		}
		gz, err := s.encode(ms, true, true)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: unzipped %d bytes (%v), want the %d bytes encoded plainly", name, len(got), err, len(want))
		}
	}
	check("one row", msgs(1, 100))
	check("many parts", msgs(2000, 300))
	one, _ := (&scratch{}).encode(msgs(1, 500), true, false)
	check("a part exactly", msgs(store.GzipPart/len(one), 500))
	// The scratch is reused: a small body after large ones carries
	// nothing of theirs.
	check("after another body", msgs(10, 300))
}
