package framing_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/sluicehq/sluice/connector/syslog/framing"
)

// loop is an endless stream made of one load repeated, read in chunks of
// at most 64 KiB, as a busy socket returns them.
type loop struct {
	load []byte
	off  int
}

func (l *loop) Read(p []byte) (int, error) {
	n := copy(p[:min(len(p), 64<<10)], l.load[l.off:])
	l.off = (l.off + n) % len(l.load)
	return n, nil
}

// BenchmarkNextLines frames RFC 5424 lines of 140 to 250 bytes, one Next
// per line, as the source does for parsed messages; b.N lines.
func BenchmarkNextLines(b *testing.B) {
	var load bytes.Buffer
	for i := range 4096 {
		fmt.Fprintf(&load, "<34>1 2026-12-06T13:45:00.%06dZ host%d app 1234 ID47 [ex@32473 a=\"1\"] seq=%010d %s\n",
			i, i%7, i, bytes.Repeat([]byte("text "), 1+i%23))
	}
	z := framing.NewReader(io.Reader(&loop{load: load.Bytes()}), 0)
	b.SetBytes(int64(load.Len() / 4096))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := z.Next(); err != nil {
			b.Fatal(err)
		}
	}
}
