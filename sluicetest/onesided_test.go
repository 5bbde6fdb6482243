package sluicetest

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice"
)

// The one-sided suites on the store's Source and Destination, correct and
// broken.

func runSource(t *testing.T, newSource func(s *store, name string) sluice.Source[[]byte], rules ...string) *recorder {
	t.Helper()
	s := newStore()
	newPair := sourcePair(func(_ tb, name string) sluice.Source[[]byte] { return newSource(s, name) },
		func(_ context.Context, name string, msgs ...msg) error { return s.write(name, msgs) })
	return runSuite(t, storeFeatures, newPair, Storage[[]byte]{}, rules...)
}

func runDestination(t *testing.T, newDestination func(s *store, name string) sluice.Destination[[]byte], rules ...string) *recorder {
	t.Helper()
	s := newStore()
	storage := s.storage()
	newPair := destinationPair(func(_ tb, name string) sluice.Destination[[]byte] { return newDestination(s, name) }, storage.Read, nil)
	return runSuite(t, storeFeatures, newPair, storage, rules...)
}

func TestSourceSuite(t *testing.T) {
	r := runSource(t, func(s *store, name string) sluice.Source[[]byte] { return &storeSource{s: s, name: name} })
	if len(r.Reports()) > 0 {
		t.Errorf("SourceSuite failed the store's Source:\n%s", r)
	}
	r = runSource(t, func(s *store, name string) sluice.Source[[]byte] {
		return &storeSource{s: s, name: name,
			start: func(l *entries) int { return l.committed },
			ack:   func(l *entries, _ int) { l.committed++ },
		}
	}, "redelivery")
	checkReports(t, r, "redelivery", "redelivery: 10 of 10 messages received but not acked did not come back")
}

func TestDestinationSuite(t *testing.T) {
	r := runDestination(t, func(s *store, name string) sluice.Destination[[]byte] { return &storeDest{s: s, name: name} })
	if len(r.Reports()) > 0 {
		t.Errorf("DestinationSuite failed the store's Destination:\n%s", r)
	}
	r = runDestination(t, func(s *store, name string) sluice.Destination[[]byte] {
		return sluice.DestinationFunc[[]byte](func(ctx context.Context, ack func(), msgs ...msg) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			sluice.Ack(ack)
			return s.write(name, msgs)
		})
	}, "round-trip")
	checkReports(t, r, "round-trip", "readback: the ack of Send 0 was called before its message .* was stored")
}
