package poll_test

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/poll"
)

// TestConcurrentRecv receives from many goroutines: each message is
// returned once, Poll is never called concurrently (scripted checks), and
// every batch is acked once.
func TestConcurrentRecv(t *testing.T) {
	const batches, receivers = 300, 8
	rng := rand.New(rand.NewPCG(1, 2))
	var results []result
	n := 0
	for range batches {
		var b result // some empty
		for range rng.IntN(8) {
			b.values = append(b.values, fmt.Sprint(n))
			n++
		}
		results = append(results, b)
	}
	p := newScripted(t, results...)
	s, err := poll.New[string](poll.Config{Interval: 1, Max: 7}, p)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	for range receivers {
		wg.Go(func() {
			for {
				msg, ack, err := s.Recv(t.Context())
				if errors.Is(err, io.EOF) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen[msg.Value]++
				mu.Unlock()
				ack()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("received %d distinct messages, want %d", len(seen), n)
	}
	for v, c := range seen {
		if c != 1 {
			t.Errorf("message %s received %d times", v, c)
		}
	}
	acked := map[string]int{}
	for _, b := range p.ackedBatches() {
		acked[b]++
	}
	for _, r := range results {
		if len(r.values) == 0 {
			continue
		}
		if b := joinValues(r.values); acked[b] != 1 {
			t.Errorf("batch %q acked %d times, want 1", b, acked[b])
		}
	}
}
