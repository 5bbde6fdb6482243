package sluicetest_test

import (
	"fmt"
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
