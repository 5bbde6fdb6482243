package sluicetest_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/memory"
	"github.com/sluicehq/sluice/sluicetest"
)

func TestUniqueName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	var names []string
	for _, name := range []string{"a", "Upper Case/with spaces & symbols", strings.Repeat("a long name ", 20)} {
		t.Run(name, func(t *testing.T) {
			got := sluicetest.UniqueName(t)
			if !valid.MatchString(got) {
				t.Errorf("UniqueName = %q, want it to match %v", got, valid)
			}
			if again := sluicetest.UniqueName(t); again != got {
				t.Errorf("UniqueName again = %q, want %q as for the same t", again, got)
			}
			names = append(names, got)
		})
	}
	seen := make(map[string]bool)
	for _, n := range names {
		if seen[n] {
			t.Errorf("UniqueName returned %q twice, for two tests", n)
		}
		seen[n] = true
	}
}

// lines is a destination's storage in memory: the messages written to
// each name, which a test reads back.
type lines struct {
	mu sync.Mutex
	by map[string][]sluice.Message[[]byte]
}

func (l *lines) write(name string, msgs ...sluice.Message[[]byte]) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range msgs {
		l.by[name] = append(l.by[name], sluice.Message[[]byte]{Value: slices.Clone(m.Value)})
	}
}

func (l *lines) read(name string) ([]sluice.Message[[]byte], error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.by[name]), nil
}

// TestDestinationSuiteAPI runs the one-sided suite through its exported API
// on a Destination that writes into lines.
func TestDestinationSuiteAPI(t *testing.T) {
	l := &lines{by: make(map[string][]sluice.Message[[]byte])}
	sluicetest.DestinationSuite[[]byte]{
		Features: sluicetest.Features{Durable: true, Ordered: true, ConcurrentSend: true, Binary: true, Messages: 20},
		NewDestination: func(t *testing.T, name string) sluice.Destination[[]byte] {
			return sluice.DestinationFunc[[]byte](func(ctx context.Context, ack func(), msgs ...sluice.Message[[]byte]) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				l.write(name, msgs...)
				sluice.Ack(ack)
				return nil
			})
		},
		Storage: sluicetest.Storage[[]byte]{Read: l.read},
	}.Run(t)
}

// TestSourceSuiteAPI runs the one-sided suite through its exported API on a
// memory.Queue per name, which Write sends to.
func TestSourceSuiteAPI(t *testing.T) {
	var mu sync.Mutex
	queues := make(map[string]*memory.Queue[[]byte])
	sluicetest.SourceSuite[[]byte]{
		Features: sluicetest.Features{Ordered: true, ConcurrentRecv: true, Binary: true, Messages: 20},
		NewSource: func(t *testing.T, name string) sluice.Source[[]byte] {
			q := memory.New[[]byte](0)
			t.Cleanup(q.Close)
			mu.Lock()
			queues[name] = q
			mu.Unlock()
			return q
		},
		Write: func(ctx context.Context, name string, msgs ...sluice.Message[[]byte]) error {
			mu.Lock()
			q := queues[name]
			mu.Unlock()
			return q.Send(ctx, nil, msgs...)
		},
	}.Run(t)
}
