package spool

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestConcurrentOutOfOrderAcks: eight loops receive while a writer is
// still sending, as a disk buffer's loops do, and ack after random
// delays, out of order, but for a few records never acked (a destination
// that holds them); the position is saved every millisecond and segments
// of 20 records are deleted as they are acked. After a stop, the spool
// must deliver again exactly the records from the first one never acked
// on: a position saved past a record not acked, or a segment deleted
// under one, would lose it.
func TestConcurrentOutOfOrderAcks(t *testing.T) {
	const n, loops = 3000, 8
	for round := range 3 {
		t.Run(strconv.Itoa(round), func(t *testing.T) {
			dir := t.TempDir()
			c := Config{Dir: dir, SegmentBytes: 20 * frameLen, MaxBytes: 1 << 20, CheckpointInterval: time.Millisecond}
			s, stop := open(t, c)
			rng := rand.New(rand.NewPCG(uint64(round), 7))
			held := map[int]bool{}
			for len(held) < 5 {
				held[rng.IntN(n)] = true
			}
			go func() {
				for i := range n {
					if err := s.Send(t.Context(), nil, sluice.Message[[]byte]{Value: rec(i)}); err != nil {
						t.Errorf("Send: %v", err)
						return
					}
				}
			}()
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			var got atomic.Int64
			var wg, acked sync.WaitGroup
			for l := range loops {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(round), uint64(l)))
					for got.Load() < n {
						m, ack, err := s.Recv(ctx)
						if err != nil {
							if got.Load() < n {
								t.Errorf("Recv: %v", err)
							}
							return
						}
						if got.Add(1) == n {
							cancel() // wake the loops waiting in Recv
						}
						if held[index(t, m.Value)] {
							continue
						}
						acked.Add(1)
						time.AfterFunc(time.Duration(r.IntN(2000))*time.Microsecond, func() { ack(); acked.Done() })
					}
				})
			}
			wg.Wait()
			if got.Load() < n {
				t.Fatalf("received %d of %d", got.Load(), n)
			}
			acked.Wait()
			stop()

			s, _ = open(t, c)
			vals, _ := recvAll(t, s, 100*time.Millisecond)
			first := slices.Min(keys(held))
			got2 := map[int]int{}
			for _, v := range vals {
				got2[index(t, v)]++
			}
			missing := 0
			for i := first; i < n; i++ {
				if got2[i] != 1 {
					missing++
				}
			}
			if missing > 0 || len(vals) != n-first {
				t.Fatalf("after the restart: %d records, want %d (from %d, the first never acked, on); %d of those missing or twice",
					len(vals), n-first, first, missing)
			}
		})
	}
}

// index returns the number of the record made by rec.
func index(t *testing.T, p []byte) int {
	t.Helper()
	i, err := strconv.Atoi(strings.TrimPrefix(string(p), "record-"))
	if err != nil {
		t.Fatalf("record %q: %v", p, err)
	}
	return i
}

func keys(m map[int]bool) []int {
	var ks []int
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
