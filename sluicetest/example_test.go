package sluicetest_test

import (
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/memory"
	"github.com/sluicehq/sluice/sluicetest"
)

// testQueue is a connector's conformance test; in the connector's package
// it is func TestConformance(t *testing.T). A memory.Queue is its own
// Source and Destination, and it keeps nothing across a restart, so it
// does not declare Durable.
func testQueue(t *testing.T) {
	sluicetest.Run(t, sluicetest.Features{Ordered: true, ConcurrentRecv: true, ConcurrentSend: true, Binary: true},
		func(t *testing.T, name string) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
			q := memory.New[[]byte](0)
			t.Cleanup(q.Close)
			return q, q
		})
}

// testStrings tests a connector of strings: Wrap and Unwrap turn the
// suite's payloads into messages and back. Its payloads must be text, so
// it does not declare Binary.
func testStrings(t *testing.T) {
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

// Run is called from a test function, with the Features the connector
// promises and a function that opens a pair over the storage it names.
func ExampleRun() {
	_ = testQueue   // func TestConformance(t *testing.T) { testQueue(t) }
	_ = testStrings // or, for messages of another type than []byte
}
