package sluicetest

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// Features declares what a connector promises; the suite checks each promise.
// A zero MaxPayload, Messages or Timeout takes the default. MaxPayload must
// be at least 16, room for the id that makes each payload unique.
type Features struct {
	Durable        bool          // messages received but not acked come back after a restart (a new pair from NewPair with the same name)
	Ordered        bool          // with one sender and one receiver, messages arrive in the order sent
	ConcurrentRecv bool          // Recv is safe for concurrent use
	ConcurrentSend bool          // Send is safe for concurrent use
	Binary         bool          // payloads may hold any byte; otherwise the suite sends printable ASCII without newlines
	MaxPayload     int           // largest payload in bytes; default 256
	Messages       int           // messages in the round-trip; default 100
	Timeout        time.Duration // how long to wait for a message or an ack; default 5s
}

// NewPair returns a Source and a Destination that share the storage named
// name: what is sent to the Destination can be received from the Source.
// Called again with the same name, it returns a pair over the same storage
// (a restart). Use t.Cleanup for resources.
type NewPair[T any] func(t *testing.T, name string) (sluice.Source[T], sluice.Destination[T])

// Run runs the suite on pairs of []byte messages; the payload is the
// message's Value.
func Run(t *testing.T, f Features, newPair NewPair[[]byte]) {
	t.Helper()
	Suite[[]byte]{Features: f, NewPair: newPair}.Run(t)
}

// Suite runs the conformance suite on pairs of any message type; Wrap and
// Unwrap convert a test payload to a message and back. When T is []byte,
// nil Wrap and Unwrap use the message's Value as the payload.
type Suite[T any] struct {
	Features
	NewPair NewPair[T]
	Wrap    func(payload []byte) sluice.Message[T]
	Unwrap  func(sluice.Message[T]) []byte
}

// Run runs every rule of the suite as a subtest of t.
func (s Suite[T]) Run(t *testing.T) {
	t.Helper()
	if s.NewPair == nil {
		t.Fatal("sluicetest: Suite.NewPair is nil")
	}
	newPair := func(t tb, name string) (sluice.Source[T], sluice.Destination[T]) {
		return s.NewPair(t.(testingT).T, name)
	}
	c, err := newSuite(s.Features, newPair, s.Wrap, s.Unwrap)
	if err != nil {
		t.Fatalf("sluicetest: %v", err)
	}
	c.run(testingT{t})
}
