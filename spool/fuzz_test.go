package spool

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// FuzzRecover runs a spool over arbitrary bytes as its only segment: Run
// must not fail, panic or hang, Recv must return only records whose frame
// in the input has a valid checksum, in input order, and the spool must
// still accept and deliver a new record.
func FuzzRecover(f *testing.F) {
	var valid []byte
	for i := range 6 {
		valid = appendFrame(valid, uint64(i+1), int64(i), rec(i))
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-7])
	flipped := bytes.Clone(valid)
	flipped[frameLen+30] ^= 1
	f.Add(flipped)
	f.Add(append(bytes.Clone(valid), make([]byte, 50)...))
	f.Add(append(bytes.Repeat([]byte{0xff}, 33), valid...))
	f.Add([]byte{})
	f.Add(make([]byte, headerSize))
	f.Fuzz(fuzzOne)
}

func fuzzOne(t *testing.T, data []byte) {
	{
		dir := t.TempDir()
		if err := os.WriteFile(segmentPath(dir, 1), data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := New(Config{Dir: dir, SegmentBytes: 4 << 10, MaxBytes: 64 << 10})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- s.Run(ctx) }()
		defer func() {
			cancel()
			select {
			case err := <-errc:
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not stop")
			}
		}()
		// Receive until the record sent after recovery arrives: every
		// record before it must be a valid frame of the input, in order.
		sent := make(chan struct{})
		defer func() { cancel(); <-sent }()
		go func() {
			defer close(sent)
			s.Send(ctx, nil, sluice.Message[[]byte]{Value: []byte("after")})
		}()
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer rcancel()
		from := 0
		for {
			m, _, err := s.Recv(rctx)
			if err != nil {
				t.Fatalf("Recv: %v; stats %+v", err, s.Stats())
			}
			if string(m.Value) == "after" && findFrame(data[from:], m.Value) < 0 {
				return
			}
			at := findFrame(data[from:], m.Value)
			if at < 0 {
				t.Fatalf("Recv returned %q, not a valid frame of the input after offset %d", m.Value, from)
			}
			from += at + headerSize + len(m.Value)
		}
	}
}

// findFrame returns the offset of the first frame in data that holds
// payload and has a valid checksum, or -1. It is written independently of
// the scanner.
func findFrame(data, payload []byte) int {
	for o := 0; o+headerSize+len(payload) <= len(data); o++ {
		if int(binary.LittleEndian.Uint32(data[o:])) != len(payload) {
			continue
		}
		body := data[o+8 : o+headerSize+len(payload)]
		if crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) == binary.LittleEndian.Uint32(data[o+4:]) &&
			bytes.Equal(body[16:], payload) {
			return o
		}
	}
	return -1
}
