package nats

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicehq/sluice/internal/brokertest"
)

func newSource(t *testing.T, url, stream, subject, durable string, edit ...func(*SourceConfig)) *Source {
	t.Helper()
	c := DefaultSourceConfig()
	c.URL, c.Stream, c.Subject, c.Durable = url, stream, subject, durable
	for _, f := range edit {
		f(&c)
	}
	s, err := NewSource(c, "test")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The dangerous moment: sluiced dies holding messages it received and
// the destination did not ack. The server sends exactly those again; the
// acked one does not come back.
func TestUnackedComeBackAfterCrash(t *testing.T) {
	url, js := logsServer(t)
	publish(t, js, "logs.app", "one", "two", "three")
	fast := func(c *SourceConfig) { c.AckWait = time.Second }

	s := newSource(t, url, "LOGS", "logs.>", "crash", fast)
	stop := brokertest.Run(t, s)
	got, acks := brokertest.Recv(t, s, 3, false)
	if !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Fatalf("got %q", got)
	}
	acks[1]()
	if err := stop(); err != nil { // waits 2s for the others, then gives up on them
		t.Fatal(err)
	}

	s = newSource(t, url, "LOGS", "logs.>", "crash", fast)
	brokertest.Run(t, s)
	got, _ = brokertest.Recv(t, s, 2, true)
	slices.Sort(got)
	if !slices.Equal(got, []string{"one", "three"}) {
		t.Fatalf("after restart got %q, want the two unacked", got)
	}
	brokertest.Nothing(t, s, 1500*time.Millisecond)
}

// A slow destination: a message held for several AckWaits is reported in
// progress and not sent again; with MaxAckPending messages held the
// server sends no more, and once they are acked the rest follows (no
// stall, fetchBatch ≤ maxAckPending).
func TestSlowDestination(t *testing.T) {
	url, js := logsServer(t)
	want := brokertest.Lines("slow-", 50)
	publish(t, js, "logs.app", want...)
	s := newSource(t, url, "LOGS", "", "slow", func(c *SourceConfig) {
		c.AckWait, c.MaxAckPending, c.FetchBatch = 2*time.Second, 10, 10
	})
	brokertest.Run(t, s)
	got, acks := brokertest.Recv(t, s, 10, false)
	// 2.5 AckWaits: no redelivery, and no 11th message. An AckWait of 2s
	// leaves the in-progress reports (every third of it) slack on a
	// loaded machine.
	brokertest.Nothing(t, s, 5*time.Second)
	for _, a := range acks {
		a()
	}
	// Once the held ten are acked, the server answers the client's pending
	// pull; should that pull have lapsed meanwhile (a loaded CI machine once
	// saw nothing for 10s), nats.go pulls again when it expires, after at
	// most jetstream.DefaultExpires (30s). Order and exactly-once are the
	// point here, not how soon.
	rest, _ := brokertest.RecvWithin(t, s, 40, true, jetstream.DefaultExpires+15*time.Second)
	if got = append(got, rest...); !slices.Equal(got, want) {
		t.Fatalf("got %d messages, want the 50 in order once each", len(got))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cons, err := js.Consumer(ctx, "LOGS", "slow")
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumRedelivered != 0 {
		t.Errorf("%d redelivered, want 0 (in progress was not reported)", info.NumRedelivered)
	}
	if info.Config.AckPolicy != jetstream.AckExplicitPolicy || info.Config.MaxAckPending != 10 || info.Config.AckWait != 2*time.Second {
		t.Errorf("consumer config %+v", info.Config)
	}
}

// A destination that stalls past AckWait while a full fetch batch sits
// pulled: every message the server sent is held by the source and
// reported in progress (its queue has room for maxAckPending), so the
// server sends none again, and once the destination takes them each
// comes once, in order.
func TestStallWithFetchedBatch(t *testing.T) {
	url, js := logsServer(t)
	want := brokertest.Lines("stall-", 600)
	publish(t, js, "logs.app", want...)
	// An AckWait of 2s, as in TestSlowDestination: slack for the
	// in-progress reports on a loaded machine.
	s := newSource(t, url, "LOGS", "", "stall", func(c *SourceConfig) { c.AckWait = 2 * time.Second })
	copies := countCopies(s, nil)
	brokertest.Run(t, s)
	got, _ := brokertest.Recv(t, s, 1, true)
	// 2.5 AckWaits with the rest pulled (256 a pull) and not taken.
	time.Sleep(5 * time.Second)
	rest, _ := brokertest.Recv(t, s, len(want)-1, true)
	if got = append(got, rest...); !slices.Equal(got, want) {
		t.Fatalf("got %d messages, want the %d in order once each", len(got), len(want))
	}
	brokertest.Nothing(t, s, 2500*time.Millisecond)
	if n := copies.Load(); n != 0 {
		t.Errorf("the server sent %d messages again, want 0 (held messages not reported in progress)", n)
	}
}

// Each tick of the in-progress reports reports every held message, even
// when it comes a little earlier after the last than a whole period (a
// ticker's jitter): skipped to the next tick, a message would go two
// thirds of AckWait unreported, and on a loaded machine the server would
// send it again.
func TestInProgressEveryTick(t *testing.T) {
	s := newSource(t, "nats://127.0.0.1:4222", "LOGS", "", "tick", func(c *SourceConfig) { c.AckWait = 3 * time.Second })
	every := s.progressEvery
	s.hold(&delivery{})
	start := time.Now()
	for i, at := range []time.Duration{every - time.Millisecond, 2*every - 5*time.Millisecond, 3*every - 20*time.Millisecond} {
		if n := len(s.due(start.Add(at), nil)); n != 1 {
			t.Fatalf("tick %d, %v after the hold: %d due, want the held one", i+1, at, n)
		}
	}
}

// The server sends a message again when no in-progress report reached it
// within AckWait (a sluiced starved of CPU; here the reports are turned
// off). A copy of a message the source still holds, or acked, is not
// handed on again: it is the same message, and the original's ack
// settles it.
func TestRedeliveredCopyDropped(t *testing.T) {
	for _, tc := range []struct {
		name string
		// acked: the copy reaches the source after the original's ack.
		acked bool
	}{
		{"while held", false},
		{"after the ack", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, js := logsServer(t)
			publish(t, js, "logs.app", "one", "two")
			s := newSource(t, url, "LOGS", "", "copy", func(c *SourceConfig) { c.AckWait = time.Second })
			s.progressEvery = time.Hour
			copied, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			copies := countCopies(s, func() {
				if tc.acked {
					once.Do(func() { close(copied); <-release })
				}
			})
			brokertest.Run(t, s)
			got, acks := brokertest.Recv(t, s, 2, false)
			if !slices.Equal(got, []string{"one", "two"}) {
				t.Fatalf("got %q", got)
			}
			if tc.acked {
				select {
				case <-copied:
				case <-time.After(10 * time.Second):
					t.Fatal("the server sent no copy within 10s")
				}
				acks[0]()
				acks[1]()
				close(release)
			} else {
				// Past AckWait twice: the server sent copies.
				brokertest.Nothing(t, s, 2500*time.Millisecond)
				acks[0]()
				acks[1]()
			}
			brokertest.Nothing(t, s, 2500*time.Millisecond)
			if copies.Load() == 0 {
				t.Error("the server sent no copy: the test proved nothing")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			cons, err := js.Consumer(ctx, "LOGS", "copy")
			if err != nil {
				t.Fatal(err)
			}
			if info, err := cons.Info(ctx); err != nil || info.NumAckPending != 0 {
				t.Errorf("consumer info %+v, %v; want nothing pending ack", info, err)
			}
		})
	}
}

func TestUnknownStream(t *testing.T) {
	_, url := embedded(t, t.TempDir(), 0)
	s := newSource(t, url, "NOPE", "logs.>", "x")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), `stream "NOPE" does not exist`) {
		t.Fatalf("Run = %v, want an error naming the stream", err)
	}
}

// Wrong credentials end Run with an error that names the fields; the
// secret is in no log line or error.
func TestWrongCredentials(t *testing.T) {
	_, url := embedded(t, t.TempDir(), 0, func(o *server.Options) { o.Username, o.Password = "sluiced", "right-secret" })
	for _, edit := range []func(*SourceConfig){
		func(c *SourceConfig) { c.User, c.Password = "sluiced", "wrong-secret" },
		func(c *SourceConfig) { c.Token = "wrong-secret" },
		func(c *SourceConfig) {},
	} {
		var logs syncBuf
		c := DefaultSourceConfig()
		c.URL, c.Stream = url, "LOGS"
		edit(&c)
		s, err := NewSource(c, "test", WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = s.Run(ctx)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "check credentialsFile, token, or user and password") {
			t.Errorf("Run = %v, want an error naming the credential fields", err)
		}
		if err != nil && strings.Contains(err.Error()+logs.String(), "secret") {
			t.Errorf("a secret was logged: %v\n%s", err, logs.String())
		}
	}
	// The right ones pass: what fails next is the stream, which does not exist.
	c := DefaultSourceConfig()
	c.URL, c.Stream, c.User, c.Password = url, "LOGS", "sluiced", "right-secret"
	s, err := NewSource(c, "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Run(ctx); err == nil || !strings.Contains(err.Error(), `stream "LOGS" does not exist`) {
		t.Errorf("Run with the right credentials = %v, want the missing stream", err)
	}
}

// A server that is down at start is retried with back-off; the source is
// not ready until it connects, and the log names the server. The server
// comes back with its stream: a server without it is refused for good, so
// creating the stream after the start raced the source's reconnection.
func TestServerDownAtStart(t *testing.T) {
	dir, port, url := downWithStream(t, "LOGS", "logs.>")
	var logs syncBuf
	c := DefaultSourceConfig()
	c.URL, c.Stream, c.Durable = url, "LOGS", "late"
	s, err := NewSource(c, "test", WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	stop := brokertest.Run(t, s)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logs.String(), "cannot reach server"); {
		if time.Now().After(deadline) {
			t.Fatalf("no retry logged within 30s:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if l := logs.String(); !strings.Contains(l, url) {
		t.Errorf("logs do not name the server:\n%s", l)
	}
	if why := s.NotReady(); !strings.Contains(why, url) {
		t.Errorf("NotReady = %q, want it to name %s", why, url)
	}
	_, url2 := embedded(t, dir, port)
	_, js := client(t, url2)
	publish(t, js, "logs.x", "hello")
	brokertest.WaitReady(t, s)
	if got, _ := brokertest.Recv(t, s, 1, true); got[0] != "hello" {
		t.Fatalf("got %q", got)
	}
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
}

// A message over maxMessageBytes is terminated (never sent again),
// counted, and not passed on.
func TestSourceOversize(t *testing.T) {
	url, js := logsServer(t)
	publish(t, js, "logs.app", "small", strings.Repeat("x", 100), "after")
	var dropped atomic.Int64
	c := DefaultSourceConfig()
	c.URL, c.Stream, c.Durable, c.MaxMessageBytes, c.AckWait = url, "LOGS", "big", 10, time.Second
	s, err := NewSource(c, "test", WithHooks(Hooks{Dropped: func(_ string, n int) { dropped.Add(int64(n)) }}))
	if err != nil {
		t.Fatal(err)
	}
	brokertest.Run(t, s)
	if got, _ := brokertest.Recv(t, s, 2, true); !slices.Equal(got, []string{"small", "after"}) {
		t.Fatalf("got %q", got)
	}
	brokertest.Nothing(t, s, 1500*time.Millisecond) // past AckWait: terminated, not redelivered
	if dropped.Load() != 1 {
		t.Errorf("dropped %d, want 1", dropped.Load())
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuf) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuf) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// A consumer deleted under a running source ends Run with an error that
// names it (the daemon stops, rather than wait for messages that cannot
// come).
func TestConsumerDeleted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before bool // deleted before the first pull reaches the server
	}{
		{"while pulling", false},
		// No pull waits on the server, so it sends no "consumer deleted"
		// status: the heartbeats stop and the source must ask. Under
		// load, the test above hit this moment by chance (1 in 10).
		{"before the first pull", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, js := logsServer(t)
			s := newSource(t, url, "LOGS", "", "doomed")
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			del := func() {
				if err := js.DeleteConsumer(ctx, "LOGS", "doomed"); err != nil {
					t.Error(err)
				}
			}
			if tc.before {
				s.beforePull = del
			}
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			if !tc.before {
				brokertest.WaitReady(t, s)
				del()
			}
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), `consumer "doomed" was deleted`) {
					t.Fatalf("Run = %v, want an error naming the consumer", err)
				}
			case <-ctx.Done():
				t.Fatal("Run did not return within 90s of its consumer's deletion")
			}
		})
	}
}
