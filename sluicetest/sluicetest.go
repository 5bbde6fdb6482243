package sluicetest

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// Features declares what a connector promises; the suite checks each promise.
// A zero MaxPayload, Messages or Timeout takes the default. MaxPayload must
// be at least 16, room for the id that makes each payload unique.
type Features struct {
	Durable        bool          // what was acked, and what was received but not acked, is there after a restart (a new pair from NewPair with the same name)
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

// Storage lets the suite look at what a destination stored without going
// through the connector, to check its acks against the storage itself. A
// destination that writes somewhere durable should give one: it is how
// the suite catches an ack called before the write it stands for.
// Both functions must be safe for concurrent use, and must not wait for
// the destination: the suite calls them from inside its acks.
type Storage[T any] struct {
	// Read returns the messages stored under name, in the order stored,
	// read directly (a file read, a GET, the server's own client). It may
	// leave out messages the Source already received: the suite knows
	// those.
	Read func(name string) ([]sluice.Message[T], error)
	// Fail, if set, makes every write to the storage named name fail from
	// now on (fail is true), as a full disk or a server answering 503
	// would, or work again (fail is false).
	Fail func(name string, fail bool) error
}

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
	// Storage, if its Read is set, turns on the readback and write-fault
	// checks of the destination.
	Storage Storage[T]
}

// Run runs every rule of the suite as a subtest of t.
func (s Suite[T]) Run(t *testing.T) {
	t.Helper()
	if s.NewPair == nil {
		t.Fatal("sluicetest: Suite.NewPair is nil")
	}
	s.run(t, func(t tb, name string) (sluice.Source[T], sluice.Destination[T]) {
		return s.NewPair(t.(testingT).T, name)
	})
}

func (s Suite[T]) run(t *testing.T, newPair func(tb, string) (sluice.Source[T], sluice.Destination[T])) {
	t.Helper()
	c, err := newSuite(s.Features, newPair, s.Wrap, s.Unwrap, s.Storage)
	if err != nil {
		t.Fatalf("sluicetest: %v", err)
	}
	c.run(testingT{t})
}

// SourceSuite runs the suite on a Source alone. The suite sends with
// Write, which puts messages where the Source reads them: it appends to
// the file, publishes with the server's own client, posts the request.
// The rules about a destination then check Write. ConcurrentSend declares
// that Write is safe for concurrent use.
type SourceSuite[T any] struct {
	Features
	NewSource func(t *testing.T, name string) sluice.Source[T]
	// Write stores msgs in the storage named name and returns once the
	// Source can receive them, or with ctx's error when ctx is done.
	Write  func(ctx context.Context, name string, msgs ...sluice.Message[T]) error
	Wrap   func(payload []byte) sluice.Message[T]
	Unwrap func(sluice.Message[T]) []byte
}

// Run runs every rule of the suite as a subtest of t.
func (s SourceSuite[T]) Run(t *testing.T) {
	t.Helper()
	if s.NewSource == nil || s.Write == nil {
		t.Fatal("sluicetest: SourceSuite.NewSource and SourceSuite.Write must both be set")
	}
	newPair := sourcePair(func(t tb, name string) sluice.Source[T] { return s.NewSource(t.(testingT).T, name) }, s.Write)
	Suite[T]{Features: s.Features, Wrap: s.Wrap, Unwrap: s.Unwrap}.run(t, newPair)
}

// DestinationSuite runs the suite on a Destination alone. The suite
// receives what was sent by reading it back with Storage.Read, so every
// ack is checked against the storage, and the rules about a source check
// Read. Durable declares that what was acked is there after a restart (a
// new Destination from NewDestination with the same name); ConcurrentRecv
// is ignored.
type DestinationSuite[T any] struct {
	Features
	NewDestination func(t *testing.T, name string) sluice.Destination[T]
	Storage        Storage[T] // Read is required
	Wrap           func(payload []byte) sluice.Message[T]
	Unwrap         func(sluice.Message[T]) []byte
}

// Run runs every rule of the suite as a subtest of t.
func (s DestinationSuite[T]) Run(t *testing.T) {
	t.Helper()
	if s.NewDestination == nil || s.Storage.Read == nil {
		t.Fatal("sluicetest: DestinationSuite.NewDestination and DestinationSuite.Storage.Read must both be set")
	}
	f := s.Features
	f.ConcurrentRecv = true // the suite's own source
	newPair := destinationPair(func(t tb, name string) sluice.Destination[T] { return s.NewDestination(t.(testingT).T, name) }, s.Storage.Read, s.Unwrap)
	Suite[T]{Features: f, Wrap: s.Wrap, Unwrap: s.Unwrap, Storage: s.Storage}.run(t, newPair)
}
