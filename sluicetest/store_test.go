package sluicetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// store is a fake durable storage: a log of messages per name that
// outlives the pairs over it (a restart), whose writes can be made to
// fail. Its Source and Destination are correct; the tests break one part
// at a time.
type store struct {
	mu   sync.Mutex
	logs map[string]*entries
}

// entries is the log of one name.
type entries struct {
	msgs      []msg
	acked     []bool
	committed int // for sources that keep an offset instead of acked
	failing   bool
	changed   chan struct{} // closed and replaced when a message is appended
}

func newStore() *store { return &store{logs: make(map[string]*entries)} }

// log returns name's log; s.mu must be held.
func (s *store) log(name string) *entries {
	l := s.logs[name]
	if l == nil {
		l = &entries{changed: make(chan struct{})}
		s.logs[name] = l
	}
	return l
}

var errWrite = errors.New("store: write failed")

// write appends copies of msgs to name's log, or fails if it is failing.
func (s *store) write(name string, msgs []msg) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.log(name)
	if l.failing {
		return errWrite
	}
	for _, m := range msgs {
		l.msgs = append(l.msgs, msg{Value: slices.Clone(m.Value)})
		l.acked = append(l.acked, false)
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return nil
}

// storage is the store seen by the suite.
func (s *store) storage() Storage[[]byte] {
	return Storage[[]byte]{
		Read: func(name string) ([]msg, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			return slices.Clone(s.log(name).msgs), nil
		},
		Fail: func(name string, fail bool) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.log(name).failing = fail
			return nil
		},
	}
}

// storeSource receives the messages of a log that were not acked, from
// its start after each restart. Recv is safe for concurrent use. start
// and ack, if set, replace where a run starts and what an ack does.
type storeSource struct {
	s     *store
	name  string
	next  int // guarded by s.mu
	init  bool
	start func(l *entries) int
	ack   func(l *entries, i int)
}

func (r *storeSource) Recv(ctx context.Context) (msg, func(), error) {
	for {
		if err := ctx.Err(); err != nil {
			return msg{}, nil, err
		}
		r.s.mu.Lock()
		l := r.s.log(r.name)
		if !r.init && r.start != nil {
			r.next = r.start(l)
		}
		r.init = true
		for r.next < len(l.msgs) && l.acked[r.next] {
			r.next++
		}
		if i := r.next; i < len(l.msgs) {
			r.next++
			m := l.msgs[i]
			r.s.mu.Unlock()
			return m, func() {
				r.s.mu.Lock()
				defer r.s.mu.Unlock()
				if r.ack != nil {
					r.ack(l, i)
				} else {
					l.acked[i] = true
				}
			}, nil
		}
		changed := l.changed
		r.s.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-changed:
		}
	}
}

// storeDest writes each Send to a log and then acks it. Send is safe for
// concurrent use.
type storeDest struct {
	s    *store
	name string
}

func (d *storeDest) Send(ctx context.Context, ack func(), msgs ...msg) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := d.s.write(d.name, msgs); err != nil {
		return err
	}
	sluice.Ack(ack)
	return nil
}

// storeFeatures are what the store promises, to fail fast when broken.
var storeFeatures = Features{Durable: true, Ordered: true, ConcurrentRecv: true, ConcurrentSend: true, Binary: true,
	Messages: 20, Timeout: time.Second} // 200ms failed on a loaded CI machine

// runStore runs the suite, with the store's Storage if hooks is set, on
// pairs over a store made by pair, and returns the recorder.
func runStore(t *testing.T, f Features, hooks bool, pair func(s *store, name string) (sluice.Source[[]byte], sluice.Destination[[]byte]), rules ...string) *recorder {
	t.Helper()
	s := newStore()
	var storage Storage[[]byte]
	if hooks {
		storage = s.storage()
	}
	return runSuite(t, f, func(_ tb, name string) (sluice.Source[[]byte], sluice.Destination[[]byte]) { return pair(s, name) }, storage, rules...)
}

// runSuite runs the suite through a recorder and returns it.
func runSuite(t *testing.T, f Features, newPair func(tb, string) (sluice.Source[[]byte], sluice.Destination[[]byte]), storage Storage[[]byte], rules ...string) *recorder {
	t.Helper()
	s, err := newSuite(f, newPair, nil, nil, storage)
	if err != nil {
		t.Fatal(err)
	}
	r := newRecorder(t.Name())
	r.do(func(t tb) { s.run(t, rules...) })
	return r
}

func storePair(s *store, name string) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
	return &storeSource{s: s, name: name}, &storeDest{s: s, name: name}
}

func TestSuitePassesStore(t *testing.T) {
	for _, hooks := range []bool{false, true} {
		r := runStore(t, storeFeatures, hooks, storePair)
		if reps := r.Reports(); len(reps) > 0 {
			t.Errorf("the suite failed the store (hooks %v):\n%s", hooks, r)
		}
	}
}

// destination makes a pair of the store's Source and a Destination that
// writes to the store with write, the log's name given.
func destination(d func(write func(msgs []msg) error) sluice.Destination[[]byte]) func(s *store, name string) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
	return func(s *store, name string) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
		return &storeSource{s: s, name: name}, d(func(msgs []msg) error { return s.write(name, msgs) })
	}
}

// lazy is a Destination that acks each Send at once and writes what it
// holds every second, in Run, which drops what it holds when it stops.
type lazy struct {
	write   func([]msg) error
	mu      sync.Mutex
	pending []msg
}

func (d *lazy) Send(ctx context.Context, ack func(), msgs ...msg) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	d.pending = append(d.pending, msgs...)
	d.mu.Unlock()
	sluice.Ack(ack)
	return nil
}

func (d *lazy) Run(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			d.mu.Lock()
			_ = d.write(d.pending)
			d.pending = nil
			d.mu.Unlock()
		}
	}
}

// keeper is a Destination that keeps each Send's msgs slice and writes
// two Sends at a time; if clearPrev is set, it writes each Send at once
// instead, and clears the previous Send's msgs (as if to reuse them).
type keeper struct {
	write     func([]msg) error
	clearPrev bool
	mu        sync.Mutex
	held      [][]msg
	acks      []func()
}

func (d *keeper) Send(ctx context.Context, ack func(), msgs ...msg) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.clearPrev {
		if err := d.write(msgs); err != nil {
			return err
		}
		sluice.Ack(ack)
		for _, prev := range d.held {
			clear(prev)
		}
		d.held = [][]msg{msgs}
		return nil
	}
	d.held, d.acks = append(d.held, msgs), append(d.acks, ack)
	if len(d.held) < 2 {
		return nil
	}
	for _, h := range d.held {
		if err := d.write(h); err != nil {
			return err
		}
	}
	for _, a := range d.acks {
		sluice.Ack(a)
	}
	d.held, d.acks = nil, nil
	return nil
}

func TestSuiteFailsStore(t *testing.T) {
	tests := []struct {
		name     string
		features Features // instead of storeFeatures, if set
		hooks    bool     // the suite gets the store's Storage
		pair     func(s *store, name string) (sluice.Source[[]byte], sluice.Destination[[]byte])
		rules    []string
		in, want string
	}{{
		name:  "acks before it writes",
		hooks: true,
		pair: destination(func(write func([]msg) error) sluice.Destination[[]byte] {
			return sluice.DestinationFunc[[]byte](func(ctx context.Context, ack func(), msgs ...msg) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				sluice.Ack(ack)
				return write(msgs)
			})
		}),
		rules: []string{"round-trip"},
		in:    "round-trip", want: `readback: the ack of Send 0 was called before its message .* was stored`,
	}, {
		name:  "acks and writes in a goroutine",
		hooks: true,
		pair: destination(func(write func([]msg) error) sluice.Destination[[]byte] {
			return sluice.DestinationFunc[[]byte](func(ctx context.Context, ack func(), msgs ...msg) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				c := slices.Clone(msgs)
				go func() { _ = write(c) }() // its error is lost
				sluice.Ack(ack)
				return nil
			})
		}),
		rules: []string{"write-fault"},
		in:    "write-fault", want: `write-fault: the ack of Send 0 while writes fail was called while every write to the storage failed`,
	}, {
		name: "acks and writes later, lost on a restart",
		pair: destination(func(write func([]msg) error) sluice.Destination[[]byte] {
			return &lazy{write: write}
		}),
		rules: []string{"restart-after-ack"},
		in:    "restart-after-ack", want: `restart-after-ack: 1 of 1 messages acked just before it did not come back after a restart`,
	}, {
		name: "clears msgs",
		pair: destination(func(write func([]msg) error) sluice.Destination[[]byte] {
			return sluice.DestinationFunc[[]byte](func(ctx context.Context, ack func(), msgs ...msg) error {
				defer clear(msgs)
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := write(msgs); err != nil {
					return err
				}
				sluice.Ack(ack)
				return nil
			})
		}),
		rules: []string{"round-trip"},
		in:    "round-trip", want: `send-msgs: Send 0 changed message 0 of the msgs it was given before it returned`,
	}, {
		name: "keeps msgs and writes them later",
		pair: destination(func(write func([]msg) error) sluice.Destination[[]byte] {
			return &keeper{write: write}
		}),
		rules: []string{"round-trip"},
		in:    "round-trip", want: `send-msgs: received 10 messages that the suite wrote over the msgs of a Send after it returned`,
	}, {
		name: "reuses msgs after Send returned",
		pair: destination(func(write func([]msg) error) sluice.Destination[[]byte] {
			return &keeper{write: write, clearPrev: true}
		}),
		rules: []string{"round-trip"},
		in:    "round-trip", want: `send-msgs: Send 0 changed message 0 of the msgs it was given after it returned`,
	}, {
		name: "ack is not idempotent",
		pair: func(s *store, name string) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
			// Each ack commits one more message: a second call commits
			// another message, one not acked.
			return &storeSource{s: s, name: name,
				start: func(l *entries) int { return l.committed },
				ack:   func(l *entries, _ int) { l.committed++ },
			}, &storeDest{s: s, name: name}
		},
		rules: []string{"redelivery"},
		in:    "redelivery", want: `redelivery: 10 of 10 messages received but not acked did not come back after a restart`,
	}, {
		name: "commits past a message not acked",
		pair: func(s *store, name string) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
			return &storeSource{s: s, name: name,
				start: func(l *entries) int { return l.committed },
				ack:   func(l *entries, i int) { l.committed = max(l.committed, i+1) },
			}, &storeDest{s: s, name: name}
		},
		rules: []string{"redelivery"},
		in:    "redelivery", want: `redelivery: [0-9]+ of 10 messages received but not acked did not come back after a restart`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := storeFeatures
			if tc.features != (Features{}) {
				f = tc.features
			}
			r := runStore(t, f, tc.hooks, tc.pair, tc.rules...)
			checkReports(t, r, tc.in, tc.want)
			if testing.Verbose() {
				t.Log("what the suite reported:\n" + r.String())
			}
		})
	}
}
