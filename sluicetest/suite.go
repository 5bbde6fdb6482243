package sluicetest

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// tb is the part of *testing.T the suite uses. It is the seam through which
// the package's own tests run the suite on broken connectors and record
// what it reports.
type tb interface {
	Helper()
	Name() string
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Cleanup(func())
	Run(name string, f func(t tb)) bool
}

// testingT is a *testing.T seen as a tb.
type testingT struct{ *testing.T }

func (t testingT) Run(name string, f func(t tb)) bool {
	t.Helper()
	return t.T.Run(name, func(t *testing.T) { f(testingT{t}) })
}

// seedEnv names the environment variable that forces the seed.
const seedEnv = "SLUICETEST_SEED"

// suite is a Suite with its defaults applied.
type suite[T any] struct {
	f       Features
	newPair func(t tb, name string) (sluice.Source[T], sluice.Destination[T])
	wrap    func([]byte) sluice.Message[T]
	unwrap  func(sluice.Message[T]) []byte
	storage Storage[T]
	seed    uint64
	prompt  time.Duration // how soon a call must return once its context is done
	grace   time.Duration // how long to watch for an ack that must not come
}

func newSuite[T any](f Features, newPair func(tb, string) (sluice.Source[T], sluice.Destination[T]),
	wrap func([]byte) sluice.Message[T], unwrap func(sluice.Message[T]) []byte, storage Storage[T]) (*suite[T], error) {
	if f.MaxPayload == 0 {
		f.MaxPayload = 256
	}
	if f.Messages == 0 {
		f.Messages = 100
	}
	if f.Timeout == 0 {
		f.Timeout = 5 * time.Second
	}
	var errs []error
	if f.MaxPayload < minPayload {
		errs = append(errs, fmt.Errorf("Features.MaxPayload is %d, want at least %d", f.MaxPayload, minPayload))
	}
	if f.Messages < 1 {
		errs = append(errs, fmt.Errorf("Features.Messages is %d, want at least 1", f.Messages))
	}
	if f.Timeout < 0 {
		errs = append(errs, fmt.Errorf("Features.Timeout is %v, want more than 0", f.Timeout))
	}
	if wrap, unwrap = codec(wrap, unwrap); wrap == nil || unwrap == nil {
		errs = append(errs, errors.New("Suite.Wrap and Suite.Unwrap must both be set"))
	}
	if storage.Fail != nil && storage.Read == nil {
		errs = append(errs, errors.New("Suite.Storage.Fail is set without Storage.Read"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &suite[T]{
		f: f, newPair: newPair, wrap: wrap, unwrap: unwrap, storage: storage,
		prompt: min(time.Second, f.Timeout),
		grace:  min(100*time.Millisecond, f.Timeout/10),
	}, nil
}

// codec returns wrap and unwrap, or for messages of []byte, when both are
// nil, functions that use the message's Value as the payload.
func codec[T any](wrap func([]byte) sluice.Message[T], unwrap func(sluice.Message[T]) []byte) (func([]byte) sluice.Message[T], func(sluice.Message[T]) []byte) {
	if wrap == nil && unwrap == nil {
		wrap, _ = any(func(p []byte) sluice.Message[[]byte] { return sluice.Message[[]byte]{Value: p} }).(func([]byte) sluice.Message[T])
		unwrap, _ = any(func(m sluice.Message[[]byte]) []byte { return m.Value }).(func(sluice.Message[T]) []byte)
	}
	return wrap, unwrap
}

// rule is one subtest of the suite.
type rule[T any] struct {
	name string
	skip func(Features) string // the reason to skip, or ""
	run  func(h *harness[T])
}

func (s *suite[T]) rules() []rule[T] {
	always := func(Features) string { return "" }
	return []rule[T]{
		{"round-trip", always, roundTrip[T]},
		{"ack-exactly-once", always, ackExactlyOnce[T]},
		{"no-ack-on-error", always, noAckOnError[T]},
		{"empty-send", always, emptySend[T]},
		{"recv-cancel", always, recvCancel[T]},
		{"send-cancel", always, sendCancel[T]},
		{"pre-cancelled", always, preCancelled[T]},
		{"run-stop", always, runStop[T]},
		{"concurrent-recv", declared("ConcurrentRecv", func(f Features) bool { return f.ConcurrentRecv }), concurrentRecv[T]},
		{"concurrent-send", declared("ConcurrentSend", func(f Features) bool { return f.ConcurrentSend }), concurrentSend[T]},
		{"redelivery", declared("Durable", func(f Features) bool { return f.Durable }), redelivery[T]},
		{"restart-after-ack", declared("Durable", func(f Features) bool { return f.Durable }), restartAfterAck[T]},
		{"write-fault", s.given("Storage.Fail", s.storage.Fail != nil), writeFault[T]},
		{"order", declared("Ordered", func(f Features) bool { return f.Ordered }), order[T]},
		{"recv-batch", always, recvBatch[T]},
		{"send-batch", always, sendBatch[T]},
	}
}

// declared skips a rule unless the feature it checks is declared.
func declared(field string, has func(Features) bool) func(Features) string {
	return func(f Features) string {
		if has(f) {
			return ""
		}
		return "not declared (Features." + field + " is false)"
	}
}

// given skips a rule unless the hook it needs is given.
func (s *suite[T]) given(hook string, ok bool) func(Features) string {
	return func(Features) string {
		if ok {
			return ""
		}
		return "not given (Suite." + hook + " is nil)"
	}
}

// run runs the rules named in only, or all of them, as subtests of t.
func (s *suite[T]) run(t tb, only ...string) {
	t.Helper()
	s.seed = rand.Uint64()
	if v := os.Getenv(seedEnv); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("sluicetest: %s=%q: %v", seedEnv, v, err)
		}
		s.seed = seed
	}
	t.Logf("sluicetest: seed %d (replay with %s=%[1]d)", s.seed, seedEnv)
	for _, r := range s.rules() {
		if len(only) > 0 && !slices.Contains(only, r.name) {
			continue
		}
		t.Run(r.name, func(t tb) { s.runRule(t, r) })
	}
}

// runRule runs r on a fresh pair. Its cleanups run in this order: stop the
// runners, the pair's own cleanups, check the acks, check for goroutines.
func (s *suite[T]) runRule(t tb, r rule[T]) {
	t.Helper()
	if reason := r.skip(s.f); reason != "" {
		t.Skipf("%s: %s", r.name, reason)
	}
	before := goroutines()
	t.Cleanup(func() { checkLeaks(t, before, s.f.Timeout) })
	h := &harness[T]{
		t: t, s: s, f: s.f, rule: r.name,
		name:   uniqueName(t),
		rng:    rand.New(rand.NewPCG(s.seed, hash(r.name))),
		before: before,
	}
	t.Cleanup(h.checkAcks)
	t.Cleanup(h.checkKept)
	h.open()
	defer h.ended.Store(true)
	r.run(h)
}

func hash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// harness is the state of one subtest: its pair, their runners and the
// acks it handed out.
type harness[T any] struct {
	t    tb
	s    *suite[T]
	f    Features
	rule string
	name string // of the storage
	rng  *rand.Rand
	ids  int // payloads made so far
	// before holds the goroutines before the pair was opened: those
	// started since are shown when a Run does not return.
	before map[uint64]string

	src  sluice.Source[T]
	dst  sluice.Destination[T]
	same bool // src and dst are one value
	runs []*running

	mu         sync.Mutex
	acks       []*ackCounter
	nilAckSeen bool
	received   map[string]bool // payloads Recv returned
	kept       []kept[T]       // the msgs of each Send, written over once it returned
	scribbled  map[string]bool // payloads written over msgs after Send returned
	changed    bool            // a Send changed its msgs: reported once

	failing atomic.Bool // Storage.Fail is on: no ack may be called
	ended   atomic.Bool // the rule returned: Storage.Read may fail from now on

	// batch, when set, makes recv take messages from the source with
	// RecvBatch, a few at a time, keeping the rest in held.
	batch sluice.BatchSource[T]
	held  []delivery[T]

	// batchDst, when set, makes send write with SendBatch, each message
	// with its own ack.
	batchDst sluice.BatchDestination[T]
	keptAcks atomic.Pointer[string] // the first SendBatch that acked through its acks slice after it returned
}

// open calls NewPair and starts the runners.
func (h *harness[T]) open() {
	h.t.Helper()
	src, dst := h.s.newPair(h.t, h.name)
	if isNil(src) || isNil(dst) {
		h.t.Fatalf("sluicetest: NewPair returned a nil Source or Destination (%T, %T)", src, dst)
	}
	h.src, h.dst, h.same = src, dst, sameValue(src, dst)
	var runs []*running
	if r, ok := src.(sluice.Runner); ok {
		what := "the Source's Run"
		if h.same {
			what = "Run"
		}
		runs = append(runs, start(what, r))
	}
	if r, ok := dst.(sluice.Runner); ok && !h.same {
		runs = append(runs, start("the Destination's Run", r))
	}
	h.runs = runs
	h.t.Cleanup(func() { h.stop(runs) })
}

// restart stops the runners and opens a new pair over the same storage.
func (h *harness[T]) restart() {
	h.t.Helper()
	h.stop(h.runs)
	h.open()
}

// running is a Runner's Run in its goroutine.
type running struct {
	what    string
	cancel  context.CancelFunc
	done    chan outcome[error]
	stopped bool
}

func start(what string, r sluice.Runner) *running {
	ctx, cancel := context.WithCancel(context.Background())
	return &running{what: what, cancel: cancel, done: goCall(func() error { return r.Run(ctx) })}
}

// stop cancels runs and waits for them, Timeout at most.
func (h *harness[T]) stop(runs []*running) {
	h.t.Helper()
	for _, r := range runs {
		r.cancel()
	}
	expired, cancel := context.WithTimeout(context.Background(), h.f.Timeout)
	defer cancel()
	for _, r := range runs {
		if r.stopped {
			continue
		}
		r.stopped = true
		o, ok := await(expired, r.done)
		switch {
		case !ok:
			h.t.Errorf("run-stop: %s did not return within %v of its context being cancelled; its goroutines then:\n%s",
				r.what, h.f.Timeout, strings.Join(leaked(h.before), "\n\n"))
		case o.panicked:
			h.t.Errorf("run-stop: %s panicked: %v", r.what, o.p)
		case o.v != nil && !errors.Is(o.v, context.Canceled) && !errors.Is(o.v, sluice.ErrUndelivered):
			h.t.Errorf("run-stop: %s returned %v, want nil, context.Canceled or sluice.ErrUndelivered", r.what, o.v)
		}
	}
}

// isNil reports whether v is nil or a nil pointer, map, chan or func.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch r := reflect.ValueOf(v); r.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Chan, reflect.Func, reflect.Slice, reflect.Interface:
		return r.IsNil()
	}
	return false
}

// sameValue reports whether a and b are the same value, such as two
// pointers to one queue, without == on values that may not be comparable.
func sameValue(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if !va.IsValid() || !vb.IsValid() || va.Type() != vb.Type() || va.Kind() == reflect.Func {
		return false
	}
	return va.Comparable() && vb.Comparable() && va.Equal(vb)
}
