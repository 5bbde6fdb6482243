package gelf

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/gelf/gelftest"
	"github.com/sluicehq/sluice/event"
)

// TestSegment checks the runs of segmented sends over random batches:
// each run's datagrams but its last are its segment size, padded with
// spaces only where allowed; the last is no larger; a run holds at most
// maxSegments datagrams and maxRunBytes bytes; and the runs, padding
// taken off, are the datagrams in order.
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
		k, from := 0, 0
		for m, msg := range w.msgs {
			run, segs := msg.Buffers[0], w.segs[m]
			if segs > maxSegments || len(run) > maxRunBytes && segs > 1 {
				t.Fatalf("iter %d: a run of %d datagrams, %d bytes", iter, segs, len(run))
			}
			if (segs > 1) != (len(msg.OOB) > 0) {
				t.Fatalf("iter %d: a run of %d datagrams with %d bytes of control message", iter, segs, len(msg.OOB))
			}
			seg := len(run)
			if segs > 1 {
				seg = ends[k] - from
				for i := k; i < k+segs; i++ {
					seg = max(seg, ends[i]-prev(ends, i))
				}
			}
			for i := k; i < k+segs; i++ {
				d := b[prev(ends, i):ends[i]]
				last := i == k+segs-1
				want := seg
				if last {
					want = min(seg, len(run))
				}
				if !last && len(d) != seg && !pad[i] {
					t.Fatalf("iter %d: datagram %d of %d bytes padded to %d, not allowed", iter, i, len(d), seg)
				}
				if last && len(d) > seg {
					t.Fatalf("iter %d: last datagram %d of %d bytes over the segment size %d", iter, i, len(d), seg)
				}
				got := run[:min(want, len(run))]
				if !last {
					run = run[seg:]
				} else {
					run = run[len(run):]
				}
				if !bytes.Equal(bytes.TrimRight(got, " "), d) {
					t.Fatalf("iter %d: datagram %d changed", iter, i)
				}
			}
			if len(run) != 0 {
				t.Fatalf("iter %d: %d bytes left in a run", iter, len(run))
			}
			k += segs
			from = ends[k-1]
		}
		if k != n {
			t.Fatalf("iter %d: runs hold %d datagrams, want %d", iter, k, n)
		}
	}
}

func prev(ends []int, i int) int {
	if i == 0 {
		return 0
	}
	return ends[i-1]
}

// TestUDPSegmentedDelivery sends 300 events of sizes from 40 bytes to
// twice the chunk size (random bytes, so the largest are chunked even
// compressed) to the in-process GELF input, with segmented sends and
// with them turned off: every message arrives whole and unchanged, none
// is rejected, and this kernel took the segmented sends.
func TestUDPSegmentedDelivery(t *testing.T) {
	for _, off := range []bool{false, true} {
		t.Run(map[bool]string{false: "segmented", true: "one by one"}[off], func(t *testing.T) {
			s, err := gelftest.New(t.Cleanup)
			if err != nil {
				t.Fatal(err)
			}
			d, err := New(Config{ServiceAddr: s.UDPAddr, Network: "udp", ChunkSize: 1420,
				Batch: batch.Config{Count: 100, Age: time.Hour}})
			if err != nil {
				t.Fatal(err)
			}
			d.w.noGSO.Store(off)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()
			defer func() { cancel(); <-done }()
			r := rand.New(rand.NewPCG(3, 4))
			want := map[string]int{}
			// Three batches of 100, each read before the next is sent: the
			// input's socket buffer (net.core.rmem_max) holds one.
			for b := range 3 {
				var msgs []sluice.Message[event.Event]
				for range 100 {
					raw := make([]byte, 40+r.IntN(2840))
					for i := range raw {
						raw[i] = byte('!' + r.IntN(90))
					}
					want[string(raw)]++
					msgs = append(msgs, sluice.Message[event.Event]{Value: event.Event{Time: time.Now(), Raw: raw, Source: "t"}})
				}
				acked := make(chan struct{})
				if err := d.Send(ctx, func() { close(acked) }, msgs...); err != nil {
					t.Fatal(err)
				}
				select {
				case <-acked:
				case <-time.After(20 * time.Second):
					t.Fatal("not acked")
				}
				deadline := time.Now().Add(10 * time.Second)
				for len(s.Messages()) < 100*(b+1) && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
			}
			for _, m := range s.Messages() {
				want[m.String("short_message")]--
			}
			for raw, n := range want {
				if n != 0 {
					t.Fatalf("message of %d bytes arrived %d times too few (%d messages, rejected %v)", len(raw), n, len(s.Messages()), s.Rejected())
				}
			}
			if gsoSupported && !off && d.w.noGSO.Load() {
				t.Error("the kernel refused segmented sends")
			}
		})
	}
}
