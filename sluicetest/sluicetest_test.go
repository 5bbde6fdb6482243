package sluicetest

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/memory"
)

// The tests here run the suite through a recorder on connectors broken in
// one way each, and check that it reports the rule they break: a check
// that cannot fail would prove nothing.

type msg = sluice.Message[[]byte]

// fake is a Source and a Destination in one value, like memory.Queue, that
// behaves as q except for the methods recv and send replace.
type fake struct {
	q    *memory.Queue[[]byte]
	recv func(ctx context.Context) (msg, func(), error)
	send func(ctx context.Context, ack func(), msgs ...msg) error
}

func (f *fake) Recv(ctx context.Context) (msg, func(), error) {
	if f.recv != nil {
		return f.recv(ctx)
	}
	return f.q.Recv(ctx)
}

func (f *fake) Send(ctx context.Context, ack func(), msgs ...msg) error {
	if f.send != nil {
		return f.send(ctx, ack, msgs...)
	}
	return f.q.Send(ctx, ack, msgs...)
}

// fakeRunner is a fake with a Run method.
type fakeRunner struct {
	*fake
	run func(ctx context.Context) error
}

func (f *fakeRunner) Run(ctx context.Context) error { return f.run(ctx) }

// A breaker breaks the fake f over the queue f.q; the test closes release
// when it ends.
type breaker func(f *fake, release <-chan struct{}) (sluice.Source[[]byte], sluice.Destination[[]byte])

// replace replaces the fake's send or recv, or both.
func replace(send func(ctx context.Context, q *memory.Queue[[]byte], ack func(), msgs ...msg) error,
	recv func(ctx context.Context, q *memory.Queue[[]byte]) (msg, func(), error)) breaker {
	return func(f *fake, _ <-chan struct{}) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
		q := f.q
		if send != nil {
			f.send = func(ctx context.Context, ack func(), msgs ...msg) error { return send(ctx, q, ack, msgs...) }
		}
		if recv != nil {
			f.recv = func(ctx context.Context) (msg, func(), error) { return recv(ctx, q) }
		}
		return f, f
	}
}

// withRun gives the fake a Run method.
func withRun(run func(ctx context.Context, release <-chan struct{}) error) breaker {
	return func(f *fake, release <-chan struct{}) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
		r := &fakeRunner{f, func(ctx context.Context) error { return run(ctx, release) }}
		return r, r
	}
}

// fast makes broken connectors fail fast.
var fast = Features{Messages: 20, Timeout: 200 * time.Millisecond}

// runOn runs the suite through a recorder on pairs over a memory queue of
// the given capacity, broken by brk, and returns the recorder.
func runOn(t *testing.T, f Features, capacity int, brk breaker, rules ...string) *recorder {
	t.Helper()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	newPair := func(t tb, name string) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
		q := memory.New[[]byte](capacity)
		t.Cleanup(q.Close)
		return brk(&fake{q: q}, release)
	}
	s, err := newSuite(f, newPair, nil, nil, Storage[[]byte]{})
	if err != nil {
		t.Fatal(err)
	}
	r := newRecorder(t.Name())
	r.do(func(t tb) { s.run(t, rules...) })
	return r
}

// ruleNames are the prefixes a report may start with.
var ruleNames = []string{
	"round-trip", "ack-exactly-once", "recv-ack", "no-ack-on-error", "empty-send",
	"recv-cancel", "send-cancel", "pre-cancelled", "run-stop", "concurrent-recv",
	"concurrent-send", "redelivery", "order", "sluicetest", "send-msgs", "readback", "write-fault", "restart-after-ack",
	"send-batch",
}

// checkReports fails t unless r holds a report in subtest in that matches
// the regexp want, and every report names a rule.
func checkReports(t *testing.T, r *recorder, in, want string) {
	t.Helper()
	re := regexp.MustCompile("^" + want)
	found := false
	for _, rep := range r.Reports() {
		rule, _, _ := strings.Cut(rep.msg, ":")
		if !slices.Contains(ruleNames, rule) {
			t.Errorf("report names no rule: %s: %s", rep.test, rep.msg)
		}
		if strings.HasSuffix(rep.test, "/"+in) && re.MatchString(rep.msg) {
			found = true
		}
	}
	if !found {
		t.Errorf("no report in %s matching %q; the run:\n%s", in, want, r)
	}
}

func TestSuitePassesMemory(t *testing.T) {
	r := runOn(t, Features{Ordered: true, ConcurrentRecv: true, ConcurrentSend: true, Binary: true}, 0,
		func(f *fake, _ <-chan struct{}) (sluice.Source[[]byte], sluice.Destination[[]byte]) { return f.q, f.q })
	if reps := r.Reports(); len(reps) > 0 {
		t.Errorf("the suite failed memory.Queue:\n%s", r)
	}
}

// batchFake is a fake that is also a BatchDestination, whose SendBatch
// sendBatch replaces.
type batchFake struct {
	*fake
	sendBatch func(ctx context.Context, msgs []msg, acks []func()) error
}

func (f *batchFake) SendBatch(ctx context.Context, msgs []msg, acks []func()) error {
	return f.sendBatch(ctx, msgs, acks)
}

// brokenBatch makes a breaker whose pair is a BatchDestination with f for
// SendBatch.
func brokenBatch(f func(ctx context.Context, q *memory.Queue[[]byte], msgs []msg, acks []func()) error) breaker {
	return func(fk *fake, _ <-chan struct{}) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
		b := &batchFake{fk, func(ctx context.Context, msgs []msg, acks []func()) error { return f(ctx, fk.q, msgs, acks) }}
		return b, b
	}
}

// send and recv make breakers that replace one method of the fake.
func send(f func(ctx context.Context, q *memory.Queue[[]byte], ack func(), msgs ...msg) error) breaker {
	return replace(f, nil)
}

func recv(f func(ctx context.Context, q *memory.Queue[[]byte]) (msg, func(), error)) breaker {
	return replace(nil, f)
}

func TestSuiteFails(t *testing.T) {
	tests := []struct {
		name     string
		features Features // on top of fast
		capacity int      // of the queue; 0 for memory.DefaultCapacity
		brk      breaker
		rules    []string // to run; all if empty
		in, want string   // the subtest that must fail, and a regexp its report matches
	}{{
		name: "double ack",
		brk: send(func(ctx context.Context, q *memory.Queue[[]byte], ack func(), msgs ...msg) error {
			return q.Send(ctx, func() { sluice.Ack(ack); sluice.Ack(ack) }, msgs...)
		}),
		in: "round-trip", want: "ack-exactly-once: the ack of Send 0 was called twice, want once",
	}, {
		name: "ack on error",
		brk: send(func(ctx context.Context, q *memory.Queue[[]byte], ack func(), msgs ...msg) error {
			err := q.Send(ctx, ack, msgs...)
			if err != nil {
				sluice.Ack(ack)
			}
			return err
		}),
		in: "no-ack-on-error", want: "no-ack-on-error: Send with a cancelled context returned an error",
	}, {
		name: "loses a message",
		brk: func(f *fake, _ <-chan struct{}) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
			var sends atomic.Int32
			f.send = func(ctx context.Context, ack func(), msgs ...msg) error {
				if sends.Add(1) == 5 {
					sluice.Ack(ack)
					return nil
				}
				return f.q.Send(ctx, ack, msgs...)
			}
			return f, f
		},
		in: "round-trip", want: "round-trip: 1 of 20 messages sent were not received",
	}, {
		name: "SendBatch loses a message and acks it",
		brk: func() breaker {
			var sends atomic.Int32
			return brokenBatch(func(ctx context.Context, q *memory.Queue[[]byte], msgs []msg, acks []func()) error {
				if sends.Add(1) == 5 {
					for _, a := range acks {
						sluice.Ack(a)
					}
					return nil
				}
				return q.SendBatch(ctx, msgs, acks)
			})
		}(),
		rules: []string{"send-batch"},
		in:    "send-batch", want: "send-batch: 1 of 20 messages sent were not received",
	}, {
		name: "SendBatch acks on error",
		brk: brokenBatch(func(ctx context.Context, q *memory.Queue[[]byte], msgs []msg, acks []func()) error {
			err := q.SendBatch(ctx, msgs, acks)
			if err != nil {
				for _, a := range acks {
					sluice.Ack(a)
				}
			}
			return err
		}),
		rules: []string{"send-batch"},
		in:    "send-batch", want: "no-ack-on-error: Send with a cancelled context returned an error",
	}, {
		name: "SendBatch keeps the acks slice",
		brk: func() breaker {
			// Each SendBatch acks the batch before it, through the slice
			// it kept instead of a copy. (Sends come one after the other,
			// so there is no data race for -race to stop the test on.)
			var mu sync.Mutex
			var prev []func()
			return brokenBatch(func(ctx context.Context, q *memory.Queue[[]byte], msgs []msg, acks []func()) error {
				mu.Lock()
				defer mu.Unlock()
				if err := q.SendBatch(ctx, msgs, make([]func(), len(msgs))); err != nil {
					return err
				}
				for _, a := range prev {
					sluice.Ack(a)
				}
				prev = acks
				return nil
			})
		}(),
		rules: []string{"send-batch"},
		in:    "send-batch", want: "send-msgs: Send 0 kept its acks slice",
	}, {
		name: "SendBatch refuses an empty batch",
		brk: brokenBatch(func(ctx context.Context, q *memory.Queue[[]byte], msgs []msg, acks []func()) error {
			if len(msgs) == 0 {
				return errors.New("empty batch")
			}
			return q.SendBatch(ctx, msgs, acks)
		}),
		rules: []string{"send-batch"},
		in:    "send-batch", want: "send-batch: SendBatch with no messages returned empty batch, want nil",
	}, {
		name: "Recv ignores cancel",
		brk: recv(func(ctx context.Context, q *memory.Queue[[]byte]) (msg, func(), error) {
			return q.Recv(context.WithoutCancel(ctx))
		}),
		in: "recv-cancel", want: "recv-cancel: Recv did not return within 200ms of its context being cancelled",
	}, {
		name: "leaks a goroutine",
		brk: withRun(func(ctx context.Context, release <-chan struct{}) error {
			go func() { <-release }()
			<-ctx.Done()
			return nil
		}),
		in: "run-stop", want: "run-stop: 1 goroutine started during the subtest still running 200ms after it ended",
	}, {
		name: "panics",
		brk: replace(func(context.Context, *memory.Queue[[]byte], func(), ...msg) error { panic("send: boom") },
			func(context.Context, *memory.Queue[[]byte]) (msg, func(), error) { panic("recv: boom") }),
		in: "round-trip", want: "round-trip: Send panicked: send: boom",
	}, {
		name: "Run ignores cancel",
		brk: withRun(func(_ context.Context, release <-chan struct{}) error {
			<-release
			return nil
		}),
		rules: []string{"run-stop"},
		in:    "run-stop", want: "run-stop: Run did not return within 200ms of its context being cancelled",
	}, {
		// The stacks of the pair's goroutines say where Run is stuck.
		name: "Run ignores cancel: its stack",
		brk: withRun(func(_ context.Context, release <-chan struct{}) error {
			<-release
			return nil
		}),
		rules: []string{"run-stop"},
		in:    "run-stop", want: `run-stop: Run did not return within 200ms of its context being cancelled; its goroutines then:\ngoroutine \d+ \[`,
	}, {
		name: "Run fails",
		brk: withRun(func(ctx context.Context, _ <-chan struct{}) error {
			<-ctx.Done()
			return errors.New("connection reset")
		}),
		rules: []string{"run-stop"},
		in:    "run-stop", want: `run-stop: Run returned connection reset, want nil, context\.Canceled or sluice\.ErrUndelivered`,
	}, {
		name: "nil ack",
		brk: recv(func(ctx context.Context, q *memory.Queue[[]byte]) (msg, func(), error) {
			m, _, err := q.Recv(ctx)
			return m, nil, err
		}),
		rules: []string{"round-trip"},
		in:    "round-trip", want: "recv-ack: Recv returned a nil ack with a nil error",
	}, {
		name: "early EOF",
		brk: func(f *fake, _ <-chan struct{}) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
			var n atomic.Int32
			f.recv = func(ctx context.Context) (msg, func(), error) {
				if n.Add(1) > 10 {
					return msg{}, nil, io.EOF
				}
				return f.q.Recv(ctx)
			}
			return f, f
		},
		rules: []string{"round-trip"},
		in:    "round-trip", want: "round-trip: unexpected io.EOF from Recv after 10 of 20 messages",
	}, {
		name:     "Send ignores cancel",
		capacity: 8,
		brk: send(func(ctx context.Context, q *memory.Queue[[]byte], ack func(), msgs ...msg) error {
			return q.Send(context.WithoutCancel(ctx), ack, msgs...)
		}),
		rules: []string{"send-cancel"},
		in:    "send-cancel", want: "send-cancel: Send did not return within 200ms of its context being cancelled",
	}, {
		name: "Send writes when cancelled",
		brk: send(func(ctx context.Context, q *memory.Queue[[]byte], ack func(), msgs ...msg) error {
			if err := q.Send(context.WithoutCancel(ctx), ack, msgs...); err != nil {
				return err
			}
			return ctx.Err()
		}),
		rules: []string{"pre-cancelled"},
		in:    "pre-cancelled", want: "pre-cancelled: Send with a cancelled context wrote its message",
	}, {
		name: "Recv consumes when cancelled",
		brk: recv(func(ctx context.Context, q *memory.Queue[[]byte]) (msg, func(), error) {
			if err := ctx.Err(); err != nil {
				if q.Len() > 0 {
					_, ack, _ := q.Recv(context.Background())
					ack()
				}
				return msg{}, nil, err
			}
			return q.Recv(ctx)
		}),
		rules: []string{"pre-cancelled"},
		in:    "pre-cancelled", want: "pre-cancelled: the message sent before a Recv with a cancelled context was not received",
	}, {
		name: "acks after the first message",
		brk: send(func(ctx context.Context, q *memory.Queue[[]byte], ack func(), msgs ...msg) error {
			first := sluice.AckOnce(ack)
			if len(msgs) == 0 {
				first()
			}
			for _, m := range msgs {
				if err := q.Send(ctx, first, m); err != nil {
					return err
				}
			}
			return nil
		}),
		rules: []string{"ack-exactly-once"},
		in:    "ack-exactly-once", want: `ack-exactly-once: the ack of Send 1 \(2 messages\) was called before the receiver acked all its messages`,
	}, {
		name: "counts a repeated ack twice", // as memory.Queue once did
		brk: func() breaker {
			var mu sync.Mutex
			shared := map[string]func(){} // payload → its Send's call-counting ack
			return replace(func(ctx context.Context, q *memory.Queue[[]byte], ack func(), msgs ...msg) error {
				all := sluice.AckAfter(len(msgs), ack) // counts calls, not messages
				mu.Lock()
				for _, m := range msgs {
					shared[string(m.Value)] = all
				}
				mu.Unlock()
				return q.Send(ctx, nil, msgs...)
			}, func(ctx context.Context, q *memory.Queue[[]byte]) (msg, func(), error) {
				m, _, err := q.Recv(ctx)
				if err != nil {
					return m, nil, err
				}
				mu.Lock()
				defer mu.Unlock()
				return m, shared[string(m.Value)], nil
			})
		}(),
		rules: []string{"ack-exactly-once"},
		in:    "ack-exactly-once", want: `ack-exactly-once: the ack of Send [5-9] \([2-4] messages\) was called before the receiver acked all its messages \(the receiver acked each message twice`,
	}, {
		name: "never acks",
		brk: send(func(ctx context.Context, q *memory.Queue[[]byte], _ func(), msgs ...msg) error {
			return q.Send(ctx, nil, msgs...)
		}),
		rules: []string{"round-trip"},
		in:    "round-trip", want: `ack-exactly-once: the ack of Send 0 \(and 19 more\) was not called within 200ms`,
	}, {
		name: "changes payloads",
		brk: send(func(ctx context.Context, q *memory.Queue[[]byte], ack func(), msgs ...msg) error {
			out := make([]msg, len(msgs))
			for i, m := range msgs {
				m.Value = m.Value[:len(m.Value)-1] // as if a trailing newline was trimmed
				out[i] = m
			}
			return q.Send(ctx, ack, out...)
		}),
		rules: []string{"round-trip"},
		in:    "round-trip", want: "round-trip: received 20 payloads never sent",
	}, {
		name: "empty Send does not ack",
		brk: send(func(ctx context.Context, q *memory.Queue[[]byte], ack func(), msgs ...msg) error {
			if len(msgs) == 0 {
				return nil
			}
			return q.Send(ctx, ack, msgs...)
		}),
		rules: []string{"empty-send"},
		in:    "empty-send", want: "empty-send: the ack of a Send with no messages was not called within 200ms",
	}, {
		name: "empty Send writes",
		brk: send(func(ctx context.Context, q *memory.Queue[[]byte], ack func(), msgs ...msg) error {
			if len(msgs) == 0 {
				msgs = []msg{{}}
			}
			return q.Send(ctx, ack, msgs...)
		}),
		rules: []string{"empty-send"},
		in:    "empty-send", want: `empty-send: received 1 payload never sent .*, first ""`,
	}, {
		name: "unordered",
		// Nothing is meant to time out here, and the rule waits for each
		// of 1000 messages: with fast's 200ms, one stall of the sending
		// goroutine on a loaded machine ended the rule before it saw the
		// order broken.
		features: Features{Ordered: true, Timeout: 30 * time.Second},
		brk: func(f *fake, _ <-chan struct{}) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
			var (
				mu   sync.Mutex
				held []msg // a message held back and sent after the next
				ack  func()
			)
			f.send = func(ctx context.Context, a func(), msgs ...msg) error {
				mu.Lock()
				defer mu.Unlock()
				if err := ctx.Err(); err != nil || len(msgs) != 1 {
					return f.q.Send(ctx, a, msgs...)
				}
				if held == nil {
					held, ack = slices.Clone(msgs), a // not msgs: the caller's slice
					return nil
				}
				if err := f.q.Send(ctx, a, msgs...); err != nil {
					return err
				}
				m := held
				held = nil
				return f.q.Send(ctx, ack, m...)
			}
			return f, f
		},
		rules: []string{"order"},
		in:    "order", want: "order: message 0 of 1000: got",
	}, {
		name:     "not durable",
		features: Features{Durable: true}, // but each NewPair has a new queue
		brk:      func(f *fake, _ <-chan struct{}) (sluice.Source[[]byte], sluice.Destination[[]byte]) { return f.q, f.q },
		rules:    []string{"redelivery"},
		in:       "redelivery", want: "redelivery: 10 of 10 messages received but not acked did not come back after a restart",
	}, {
		name:     "loses under concurrent Recv",
		features: Features{ConcurrentRecv: true},
		brk: func(f *fake, _ <-chan struct{}) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
			var (
				inflight atomic.Int32
				once     sync.Once
				company  = make(chan struct{}) // closed when two calls first overlap
			)
			f.recv = func(ctx context.Context) (msg, func(), error) {
				overlaps := inflight.Add(1) > 1
				defer inflight.Add(-1)
				if overlaps {
					once.Do(func() { close(company) })
				} else {
					wait := time.NewTimer(5 * time.Second)
					defer wait.Stop()
					select {
					case <-company:
					case <-wait.C:
					}
				}
				m, ack, err := f.q.Recv(ctx)
				if err != nil || !overlaps {
					return m, ack, err
				}
				ack() // a race: this message is lost
				return f.q.Recv(ctx)
			}
			return f, f
		},
		rules: []string{"concurrent-recv"},
		in:    "concurrent-recv", want: `concurrent-recv: [0-9]+ of 20 messages sent were not received`,
	}, {
		name:     "loses under concurrent Send",
		features: Features{ConcurrentSend: true},
		brk: func(f *fake, _ <-chan struct{}) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
			var (
				inflight atomic.Int32
				once     sync.Once
				company  = make(chan struct{}) // closed when two Sends first overlap
			)
			f.send = func(ctx context.Context, ack func(), msgs ...msg) error {
				overlaps := inflight.Add(1) > 1
				defer inflight.Add(-1)
				if overlaps {
					once.Do(func() { close(company) })
					sluice.Ack(ack) // a race: the message is lost
					return nil
				}
				wait := time.NewTimer(5 * time.Second)
				defer wait.Stop()
				select {
				case <-company:
				case <-wait.C:
				}
				return f.q.Send(ctx, ack, msgs...)
			}
			return f, f
		},
		rules: []string{"concurrent-send"},
		in:    "concurrent-send", want: `concurrent-send: [0-9]+ of 20 messages sent were not received`,
	}, {
		name:  "nil pair",
		brk:   func(*fake, <-chan struct{}) (sluice.Source[[]byte], sluice.Destination[[]byte]) { return nil, nil },
		rules: []string{"round-trip"},
		in:    "round-trip", want: "sluicetest: NewPair returned a nil Source or Destination",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := fast
			f.Ordered, f.Durable = tc.features.Ordered, tc.features.Durable
			f.ConcurrentRecv, f.ConcurrentSend = tc.features.ConcurrentRecv, tc.features.ConcurrentSend
			if tc.features.Timeout != 0 {
				f.Timeout = tc.features.Timeout
			}
			r := runOn(t, f, tc.capacity, tc.brk, tc.rules...)
			checkReports(t, r, tc.in, tc.want)
			if testing.Verbose() {
				t.Log("what the suite reported:\n" + r.String())
			}
		})
	}
}

func TestSeed(t *testing.T) {
	queue := func(f *fake, _ <-chan struct{}) (sluice.Source[[]byte], sluice.Destination[[]byte]) { return f.q, f.q }
	t.Setenv(seedEnv, "42")
	if r := runOn(t, fast, 0, queue, "round-trip"); !strings.Contains(r.String(), "seed 42 (replay with SLUICETEST_SEED=42)") {
		t.Errorf("the seed in %s is not logged:\n%s", seedEnv, r)
	}
	t.Setenv(seedEnv, "x")
	if r := runOn(t, fast, 0, queue, "round-trip"); len(r.Reports()) != 1 || !strings.HasPrefix(r.Reports()[0].msg, `sluicetest: SLUICETEST_SEED="x"`) {
		t.Errorf("a bad seed is not reported:\n%s", r)
	}

	// The same seed gives the same payloads.
	payloads := func() []string {
		s := &suite[[]byte]{f: Features{MaxPayload: 64}, seed: 42}
		h := &harness[[]byte]{s: s, f: s.f, rng: rand.New(rand.NewPCG(s.seed, hash("round-trip")))}
		return h.payloads(10)
	}
	if a, b := payloads(), payloads(); !slices.Equal(a, b) {
		t.Errorf("the same seed gave %q, then %q", a, b)
	}
}

func TestPayloads(t *testing.T) {
	for _, binary := range []bool{false, true} {
		s := &suite[[]byte]{f: Features{MaxPayload: 32, Binary: binary}}
		h := &harness[[]byte]{s: s, f: s.f, rng: rand.New(rand.NewPCG(1, 2))}
		ps := h.payloads(1000)
		seen := make(map[string]bool)
		for i, p := range ps {
			if len(p) > 32 || i == 0 && len(p) != 32 {
				t.Errorf("payload %d is %d bytes, want at most 32 (the first, exactly)", i, len(p))
			}
			if seen[p] {
				t.Errorf("payload %q made twice", p)
			}
			seen[p] = true
			if !binary && strings.ContainsFunc(p, func(r rune) bool { return r < ' ' || r > '~' }) {
				t.Errorf("payload %q is not printable ASCII", p)
			}
		}
	}
}

func TestSameValue(t *testing.T) {
	q1, q2 := memory.New[[]byte](1), memory.New[[]byte](1)
	type uncomparable struct{ s []int }
	tests := []struct {
		name string
		a, b any
		want bool
	}{
		{"one pointer", q1, q1, true},
		{"two pointers", q1, q2, false},
		{"two funcs", sluice.SourceFunc[[]byte](q1.Recv), sluice.DestinationFunc[[]byte](q1.Send), false},
		{"equal values", struct{ n int }{1}, struct{ n int }{1}, true},
		{"uncomparable values", uncomparable{[]int{1}}, uncomparable{[]int{1}}, false},
		{"nil", nil, q1, false},
	}
	for _, tc := range tests {
		if got := sameValue(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: sameValue = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestTestingOnly(t *testing.T) {
	tests := []struct {
		name, stack string
		want        bool
	}{
		{"a test's runner", "goroutine 7 [chan receive]:\ntesting.(*T).Run(0xc000003a40, {0x5c1f2e, 0x4}, 0x5d3b48)\n\t/go/src/testing/testing.go:2005 +0x485\ncreated by testing.(*T).Run in goroutine 1\n\t/go/src/testing/testing.go:1997 +0x465", true},
		{"a connector's", "goroutine 9 [select]:\nexample.com/conn.(*Client).loop(0xc0000a6000)\n\t/src/conn.go:10 +0x85\ncreated by example.com/conn.New in goroutine 7\n\t/src/conn.go:5 +0x65", false},
		{"started by a test", "goroutine 9 [chan receive]:\nruntime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)\n\t/go/src/runtime/proc.go:435 +0xce\ncreated by example.com/conn.TestX in goroutine 7\n\t/src/conn_test.go:5 +0x65", false},
	}
	for _, tc := range tests {
		if got := testingOnly(tc.stack); got != tc.want {
			t.Errorf("%s: testingOnly = %v, want %v", tc.name, got, tc.want)
		}
	}
}
