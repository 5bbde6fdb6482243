//go:build linux

package gelf

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"testing"

	"github.com/sluicehq/sluice/connector/gelf/gelftest"
	"github.com/sluicehq/sluice/connector/internal/storetest"
	"golang.org/x/sys/unix"
)

// TestSegment checks the runs of segmented sends over random batches
// (see cutRuns): the runs, cut as the kernel cuts them, are the
// datagrams in order, padded with spaces only where allowed and by at
// most a quarter of each run, within maxSegments and maxRunBytes.
func TestSegment(t *testing.T) {
	if !gsoSupported {
		t.Skip("no UDP segmentation on this platform")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 300 {
		var b []byte
		var ends []int
		var pad []bool
		n := 1 + r.IntN(200)
		base := 100 + r.IntN(8000)
		for i := range n {
			size := base + r.IntN(base/4+1) - base/8
			if r.IntN(10) == 0 {
				size = 1 + r.IntN(9000)
			}
			d := bytes.Repeat([]byte{byte('a' + i%26)}, size)
			d[0] = '{'
			b = append(b, d...)
			ends = append(ends, len(b))
			pad = append(pad, r.IntN(5) != 0)
		}
		var w batchWriter
		w.segment(b, ends, pad)
		if _, err := cutRuns(b, ends, pad, &w); err != nil {
			t.Fatalf("iter %d: %v", iter, err)
		}
	}
}

func prev(ends []int, i int) int {
	if i == 0 {
		return 0
	}
	return ends[i-1]
}

// runsSent is what the kernel sends for w's runs, as it cuts a segmented
// send at the size its UDP_SEGMENT control message gives: the datagrams
// in order, and the padding they carry.
type runsSent struct {
	datagrams [][]byte
	bytes     int // all of them
	padding   int // of which trailing spaces added
}

// cutRuns cuts w's runs as the kernel does and checks them against the
// datagrams of b (datagram k ends at ends[k], may be padded if pad[k]):
// every datagram sent once, in order, unchanged but for trailing spaces
// where pad allows them; a segmented run within maxSegments and
// maxRunBytes; and the padding of each run at most a quarter of its
// bytes.
func cutRuns(b []byte, ends []int, pad []bool, w *batchWriter) (runsSent, error) {
	var s runsSent
	if len(w.msgs) != len(w.segs) {
		return s, fmt.Errorf("%d sends for %d runs", len(w.msgs), len(w.segs))
	}
	for m, msg := range w.msgs {
		run, n := msg.Buffers[0], w.segs[m]
		seg := len(run)
		if len(msg.OOB) > 0 {
			seg = int(binary.NativeEndian.Uint16(msg.OOB[unix.CmsgLen(0):]))
			if n > maxSegments || len(run) > maxRunBytes || seg == 0 {
				return s, fmt.Errorf("run %d: %d datagrams of %d bytes, %d in all", m, n, seg, len(run))
			}
		} else if n != 1 {
			return s, fmt.Errorf("run %d: %d datagrams without a segment size", m, n)
		}
		if cut := (len(run) + seg - 1) / seg; cut != n {
			return s, fmt.Errorf("run %d: the kernel cuts it into %d datagrams, not %d", m, cut, n)
		}
		padding := 0
		for ; len(run) > 0; run = run[min(seg, len(run)):] {
			got, k := run[:min(seg, len(run))], len(s.datagrams)
			if k >= len(ends) {
				return s, fmt.Errorf("run %d: more datagrams than the %d given", m, len(ends))
			}
			want := b[prev(ends, k):ends[k]]
			if len(got) < len(want) || !bytes.Equal(got[:len(want)], want) {
				return s, fmt.Errorf("datagram %d (%d bytes) sent as %d bytes, changed", k, len(want), len(got))
			}
			if extra := got[len(want):]; len(extra) > 0 {
				if !pad[k] || len(bytes.Trim(extra, " ")) > 0 {
					return s, fmt.Errorf("datagram %d (padding allowed: %t) sent with %q after it", k, pad[k], extra[:min(len(extra), 20)])
				}
				padding += len(extra)
			}
			s.datagrams = append(s.datagrams, got)
		}
		if padding*maxPadShare > len(msg.Buffers[0]) { // the docs promise a quarter
			return s, fmt.Errorf("run %d: %d bytes of padding in %d, over a quarter", m, padding, len(msg.Buffers[0]))
		}
		s.bytes += len(msg.Buffers[0])
		s.padding += padding
	}
	if len(s.datagrams) != len(ends) {
		return s, fmt.Errorf("%d datagrams sent, want %d", len(s.datagrams), len(ends))
	}
	return s, nil
}

// gelfDatagrams returns GELF messages of the given sizes (at least
// minGELF bytes), back to back, and where each ends.
func gelfDatagrams(sizes []int) (b []byte, ends []int) {
	for i, size := range sizes {
		from := len(b)
		b = fmt.Appendf(b, `{"version":"1.1","host":"h","timestamp":1,"_n":%d,"short_message":"`, i)
		for len(b)-from < size-2 {
			b = append(b, byte('a'+(len(b)-from)%26))
		}
		b = append(b, `"}`...)
		ends = append(ends, len(b))
	}
	return b, ends
}

const minGELF = 80 // gelfDatagrams' smallest message

// TestSegmentPadding checks segmented sends of GELF messages of the
// given sizes: the padding stays within a quarter of what is sent, no
// datagram is cut, lost or reordered, and every datagram as the kernel
// sends it, trailing spaces and all, is a message the GELF input
// (gelftest, which refuses anything but JSON whitespace after the
// object) accepts.
func TestSegmentPadding(t *testing.T) {
	if !gsoSupported {
		t.Skip("no UDP segmentation on this platform")
	}
	rep := func(n, size int) []int { return slices.Repeat([]int{size}, n) }
	realistic := func() []int { // sizes of storetest.Realistic events as GELF
		r := rand.New(rand.NewPCG(5, 6))
		var s []int
		for range 64 {
			s = append(s, 400+r.IntN(300))
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		sizes []int
		noPad []int // indexes of datagrams that may not be padded
	}{
		{"one size", rep(64, 500), nil},
		{"long first, short after", append([]int{1000}, rep(63, 100)...), nil},
		{"long first, slightly shorter after", append([]int{600}, rep(63, 500)...), nil},
		{"growing", []int{100, 200, 300, 400, 500, 600, 700, 800}, nil},
		{"shrinking", []int{800, 700, 600, 500, 400, 300, 200, 100}, nil},
		{"alternating", append(rep(1, 700), 100, 700, 100, 700, 100, 700, 100, 700, 100), nil},
		{"realistic", realistic(), nil},
		{"short unpaddable in a run", []int{500, 500, 300, 500, 500}, []int{2}},
		{"long after unpaddable", []int{500, 500, 510, 500}, []int{1}},
		{"one", []int{minGELF}, nil},
		{"max run bytes", rep(64, 8192), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, ends := gelfDatagrams(tc.sizes)
			pad := slices.Repeat([]bool{true}, len(ends))
			for _, i := range tc.noPad {
				pad[i] = false
			}
			var w batchWriter
			w.segment(b, ends, pad)
			sent, err := cutRuns(b, ends, pad, &w)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d datagrams, %d bytes, %d sends, padding %d bytes (%.1f%%)",
				len(ends), ends[len(ends)-1], len(w.msgs), sent.padding, 100*float64(sent.padding)/float64(sent.bytes))
			s, err := gelftest.New(t.Cleanup)
			if err != nil {
				t.Fatal(err)
			}
			c, err := net.Dial("udp", s.UDPAddr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for i, d := range sent.datagrams {
				if _, err := c.Write(d); err != nil {
					t.Fatal(err)
				}
				storetest.WaitFor(t, "the input takes datagram "+strconv.Itoa(i), func() bool {
					return len(s.Messages())+len(s.Rejected()) > i
				})
			}
			if r := s.Rejected(); len(r) > 0 {
				t.Fatalf("the input rejected %d messages: %q", len(r), r)
			}
			for i, m := range s.Messages() {
				if m["_n"] != json.Number(strconv.Itoa(i)) {
					t.Fatalf("message %d is %v", i, m["_n"])
				}
			}
		})
	}
}

// FuzzSegment segments batches of datagrams whose sizes (1 to 9,000
// bytes) and paddability come from the fuzzer, two bytes per datagram, up
// to 64 as a batch holds. Invariants (cutRuns): every datagram is sent
// once, in order, unchanged but for trailing spaces where allowed; each
// segmented run is within maxSegments datagrams and maxRunBytes bytes
// and cut by the kernel into exactly its datagrams; padding is at most
// a quarter of each run.
func FuzzSegment(f *testing.F) {
	if !gsoSupported {
		f.Skip("no UDP segmentation on this platform")
	}
	for _, sizes := range [][]int{{500}, {1000, 100, 100, 100}, {100, 200, 300, 9000}, {8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192}} {
		var seed []byte
		for i, s := range sizes {
			v := uint16(s - 1)
			if i%3 == 2 {
				v |= 0x8000 // not paddable
			}
			seed = binary.BigEndian.AppendUint16(seed, v)
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var b []byte
		var ends []int
		var pad []bool
		for i := 0; i+1 < len(in) && len(ends) < 64; i += 2 {
			v := binary.BigEndian.Uint16(in[i:])
			size := 1 + int(v&0x7fff)%9000
			for k := range size {
				b = append(b, byte('a'+(k+len(ends))%26))
			}
			ends = append(ends, len(b))
			pad = append(pad, v&0x8000 == 0)
		}
		if len(ends) == 0 {
			return
		}
		var w batchWriter
		w.segment(b, ends, pad)
		if _, err := cutRuns(b, ends, pad, &w); err != nil {
			t.Fatal(err)
		}
	})
}
