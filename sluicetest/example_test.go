package sluicetest_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/memory"
	"github.com/sluicehq/sluice/sluicetest"
)

// Run is called from a connector's test function, with the Features the
// connector promises and a function that opens a pair over the storage it
// names. A memory.Queue is its own Source and Destination, and it keeps
// nothing across a restart, so it does not declare Durable.
func ExampleRun() {
	TestConformance := func(t *testing.T) {
		sluicetest.Run(t, sluicetest.Features{Ordered: true, ConcurrentRecv: true, ConcurrentSend: true, Binary: true},
			func(t *testing.T, name string) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
				q := memory.New[[]byte](0) // a new queue: nothing survives a restart, so not Durable
				t.Cleanup(q.Close)
				return q, q
			})
	}
	fmt.Println(runTest(TestConformance)) // what go test would say
	// Output: PASS
}

// A connector of strings: Wrap and Unwrap turn the suite's payloads into
// messages and back. Its payloads must be text, so it does not declare
// Binary.
func ExampleSuite() {
	TestConformance := func(t *testing.T) {
		sluicetest.Suite[string]{
			Features: sluicetest.Features{Ordered: true, Messages: 20},
			NewPair: func(t *testing.T, name string) (sluice.Source[string], sluice.Destination[string]) {
				q := memory.New[string](16)
				t.Cleanup(q.Close)
				return q, q
			},
			Wrap:   func(p []byte) sluice.Message[string] { return sluice.Message[string]{Value: string(p)} },
			Unwrap: func(m sluice.Message[string]) []byte { return []byte(m.Value) },
		}.Run(t)
	}
	fmt.Println(runTest(TestConformance))
	// Output: PASS
}

// store is where the destination below writes: the messages of each name,
// in memory here, a file or a bucket in a real connector.
type store struct {
	mu sync.Mutex
	by map[string][]sluice.Message[[]byte]
}

func (s *store) write(name string, msgs ...sluice.Message[[]byte]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		s.by[name] = append(s.by[name], sluice.Message[[]byte]{Value: slices.Clone(m.Value)})
	}
}

func (s *store) read(name string) ([]sluice.Message[[]byte], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.by[name]), nil
}

// An author who writes only a destination tests it with DestinationSuite:
// the suite reads back what was written with Storage.Read, and checks
// inside each ack that the Send's messages are stored already.
func ExampleDestinationSuite() {
	s := &store{by: make(map[string][]sluice.Message[[]byte])}
	TestConformance := func(t *testing.T) {
		sluicetest.DestinationSuite[[]byte]{
			Features: sluicetest.Features{Durable: true, Ordered: true, ConcurrentSend: true, Binary: true, Messages: 20},
			NewDestination: func(t *testing.T, name string) sluice.Destination[[]byte] {
				return sluice.DestinationFunc[[]byte](func(ctx context.Context, ack func(), msgs ...sluice.Message[[]byte]) error {
					if err := ctx.Err(); err != nil {
						return err
					}
					s.write(name, msgs...) // first write,
					sluice.Ack(ack)        // then ack
					return nil
				})
			},
			Storage: sluicetest.Storage[[]byte]{Read: s.read},
		}.Run(t)
	}
	fmt.Println(runTest(TestConformance))
	// Output: PASS
}

// An author who writes only a source tests it with SourceSuite, giving a
// Write function that puts messages where the source reads them. Here the
// source is a memory.Queue per name.
func ExampleSourceSuite() {
	var mu sync.Mutex
	queues := make(map[string]*memory.Queue[[]byte])
	TestConformance := func(t *testing.T) {
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
	fmt.Println(runTest(TestConformance))
	// Output: PASS
}
