package gelf

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/gelf/gelftest"
	"github.com/sluicehq/sluice/event"
)

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
