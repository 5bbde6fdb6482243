package batch_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
)

// TestInPlaceWaitsAsNew drives a NewEncoded destination, whose Send
// encodes into the batch itself, and a New destination through the same
// 300 Sends, with each flush held until a Send cannot go on without it:
// so most Sends come while no flush slot is free, among them those that
// fill the batch by count (Send must wait before encoding) and those
// that fill it by bytes only, which the encodings tell (what was encoded
// must come back out of the batch, and Send wait). Both must flush the
// same batches, need the same flushes released before each Send
// returns, and ack each Send once.
func TestInPlaceWaitsAsNew(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sends := make([][]sluice.Message[[]byte], 300)
	for i := range sends {
		ms := make([]sluice.Message[[]byte], 1+rng.IntN(9))
		for j := range ms {
			ms[j].Value = []byte(strings.Repeat(string(rune('a'+(i+j)%26)), 1+rng.IntN(30)))
		}
		sends[i] = ms
	}
	raw := func(b []byte, m *sluice.Message[[]byte]) []byte { return append(b, m.Value...) }
	tests := []struct {
		name string
		cfg  batch.Config
	}{
		{"count and bytes", batch.Config{Count: 5, Bytes: 60}},
		{"count and bytes, eager", batch.Config{Count: 5, Bytes: 60, Eager: true}},
		{"count only", batch.Config{Count: 4}},
		{"bytes only", batch.Config{Count: 1000, Bytes: 50}},
		{"two flushes", batch.Config{Count: 6, Bytes: 70, Parallelism: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Age, tc.cfg.StopTimeout = time.Hour, time.Minute
			tc.cfg.Parallelism = max(tc.cfg.Parallelism, 1)
			// run returns the batches flushed ("values|ends"), sorted when
			// flushes run in parallel, and how many flushes each Send
			// needed released before it returned.
			run := func(t *testing.T, newDest func(hold func(string) error) (*batch.Destination[[]byte], error)) (batches []string, waits []int) {
				synctest.Test(t, func(t *testing.T) {
					release := make(chan struct{})
					var mu sync.Mutex
					d, err := newDest(func(b string) error {
						mu.Lock()
						batches = append(batches, b)
						mu.Unlock()
						<-release
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
					ctx, cancel := context.WithCancel(t.Context())
					stopped := make(chan error, 1)
					go func() { stopped <- d.Run(ctx) }()
					acked := make([]int, len(sends))
					for i, ms := range sends {
						done := make(chan error, 1)
						go func() { done <- d.Send(ctx, func() { acked[i]++ }, ms...) }()
						n := 0
						for {
							synctest.Wait()
							select {
							case err := <-done:
								if err != nil {
									t.Fatalf("send %d: %v", i, err)
								}
							default:
								release <- struct{}{} // a Send waits only while every slot flushes
								n++
								continue
							}
							break
						}
						waits = append(waits, n)
					}
					close(release)
					cancel()
					if err := <-stopped; err != nil {
						t.Fatal(err)
					}
					for i, n := range acked {
						if n != 1 {
							t.Errorf("send %d acked %d times, want once", i, n)
						}
					}
				})
				if tc.cfg.Parallelism > 1 {
					slices.Sort(batches)
				}
				return batches, waits
			}
			wantBatches, wantWaits := run(t, func(hold func(string) error) (*batch.Destination[[]byte], error) {
				return batch.New(tc.cfg, batch.FlushFunc[[]byte](func(_ context.Context, ms []sluice.Message[[]byte]) error {
					var b []byte
					var ends []int
					for i := range ms {
						b = raw(b, &ms[i])
						ends = append(ends, len(b))
					}
					return hold(fmt.Sprintf("%s|%v", b, ends))
				}))
			})
			gotBatches, gotWaits := run(t, func(hold func(string) error) (*batch.Destination[[]byte], error) {
				return batch.NewEncoded(tc.cfg, raw, batch.FlushBytesFunc(func(_ context.Context, b []byte, ends []int) error {
					return hold(fmt.Sprintf("%s|%v", b, ends))
				}))
			})
			if !slices.Equal(gotWaits, wantWaits) {
				t.Errorf("flushes released before each Send returned:\n got %v\nwant %v", gotWaits, wantWaits)
			}
			if !slices.Equal(gotBatches, wantBatches) {
				t.Errorf("NewEncoded flushed %d batches:\n%q\nNew flushed %d:\n%q", len(gotBatches), gotBatches, len(wantBatches), wantBatches)
			}
			if slices.Max(wantWaits) == 0 {
				t.Error("no Send waited for a flush: the test holds none")
			}
		})
	}
}
