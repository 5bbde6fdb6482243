package poll_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/poll"
	"github.com/sluicehq/sluice/retry"
)

var errBoom = errors.New("boom")

// result is what one Poll returns: the values as messages, and err.
type result struct {
	values []string
	err    error
}

// scripted is a Poller that returns its results in turn, then io.EOF. It
// records when and with which max it was called, counts the batch acks,
// and fails the test if it is called from two goroutines at once.
type scripted struct {
	t       *testing.T
	mu      sync.Mutex
	results []result
	calls   []time.Time
	maxes   []int
	acked   []string // batches acked, as their values joined by ","
	busy    atomic.Bool
}

func (p *scripted) Poll(ctx context.Context, max int) ([]sluice.Message[string], func(), error) {
	if !p.busy.CompareAndSwap(false, true) {
		p.t.Error("Poll called concurrently")
	}
	defer p.busy.Store(false)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, time.Now())
	p.maxes = append(p.maxes, max)
	if len(p.results) == 0 {
		return nil, nil, io.EOF
	}
	r := p.results[0]
	p.results = p.results[1:]
	msgs := make([]sluice.Message[string], len(r.values))
	for i, v := range r.values {
		msgs[i].Value = v
	}
	name := joinValues(r.values)
	return msgs, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.acked = append(p.acked, name)
	}, r.err
}

func joinValues(values []string) string { return strings.Join(values, ",") }

func (p *scripted) ackedBatches() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.acked)
}

func (p *scripted) callTimes() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

func newScripted(t *testing.T, results ...result) *scripted {
	return &scripted{t: t, results: results}
}

// fast has short waits so that tests run quickly.
var fast = poll.Config{Interval: time.Millisecond, Retry: retry.Policy{Initial: time.Millisecond, Max: 2 * time.Millisecond}}

func batch(values ...string) result { return result{values: values} }

func TestRecv(t *testing.T) {
	retryable := sluice.Retryable(errBoom)
	tests := []struct {
		name    string
		cfg     poll.Config
		results []result
		// want is what successive Recvs return: a value, "EOF", or
		// "error" for an error that wraps errBoom.
		want      []string
		wantPolls int
	}{
		{name: "batches in order", results: []result{batch("a", "b"), batch("c")},
			want: []string{"a", "b", "c", "EOF", "EOF"}, wantPolls: 3},
		{name: "empty polls are polled again", results: []result{batch(), batch(), batch("a")},
			want: []string{"a", "EOF"}, wantPolls: 4},
		{name: "immediate EOF", want: []string{"EOF", "EOF"}, wantPolls: 1},
		{name: "EOF with the last batch", results: []result{{values: []string{"a", "b"}, err: io.EOF}},
			want: []string{"a", "b", "EOF", "EOF"}, wantPolls: 1},
		{name: "retryable errors are retried", results: []result{{err: retryable}, {err: retryable}, batch("a")},
			want: []string{"a", "EOF"}, wantPolls: 4},
		{name: "retryable error with messages ignores them", results: []result{{values: []string{"x"}, err: retryable}, batch("a")},
			want: []string{"a", "EOF"}, wantPolls: 3},
		{name: "permanent error is returned, then polling resumes",
			results: []result{batch("a"), {values: []string{"x"}, err: errBoom}, batch("b")},
			want:    []string{"a", "error", "b", "EOF"}, wantPolls: 4},
		{name: "retries give up after MaxAttempts",
			cfg:     poll.Config{Retry: retry.Policy{Initial: time.Millisecond, MaxAttempts: 2}},
			results: []result{{err: retryable}, {err: retryable}, {err: retryable}, batch("a")},
			want:    []string{"error", "a"}, wantPolls: 4},
		{name: "failures in a row count from a success",
			cfg:     poll.Config{Retry: retry.Policy{Initial: time.Millisecond, MaxAttempts: 2}},
			results: []result{{err: retryable}, batch("a"), {err: retryable}, batch("b")},
			want:    []string{"a", "b", "EOF"}, wantPolls: 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newScripted(t, tc.results...)
			cfg := fast
			if tc.cfg != (poll.Config{}) {
				cfg = tc.cfg
			}
			s, err := poll.New[string](cfg, p)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for range tc.want {
				msg, ack, err := s.Recv(t.Context())
				switch {
				case errors.Is(err, io.EOF):
					got = append(got, "EOF")
				case errors.Is(err, errBoom):
					got = append(got, "error")
				case err != nil:
					t.Fatalf("Recv: unexpected error %v", err)
				case ack == nil:
					t.Fatalf("Recv returned %q with a nil ack", msg.Value)
				default:
					got = append(got, msg.Value)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if got := len(p.callTimes()); got != tc.wantPolls {
				t.Errorf("%d polls, want %d", got, tc.wantPolls)
			}
		})
	}
}

func TestBatchAck(t *testing.T) {
	p := newScripted(t, batch("a", "b", "c"), batch("d"), batch())
	s, err := poll.New[string](fast, p)
	if err != nil {
		t.Fatal(err)
	}
	acks := map[string]func(){}
	for range 4 {
		msg, ack, err := s.Recv(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		acks[msg.Value] = ack
	}
	if got := p.ackedBatches(); len(got) != 0 {
		t.Fatalf("acked %q before any message was", got)
	}
	for _, v := range []string{"c", "a", "a", "c", "d"} { // some twice
		acks[v]()
	}
	if got, want := p.ackedBatches(), []string{"d"}; !slices.Equal(got, want) {
		t.Fatalf("acked %q with b not acked, want %q", got, want)
	}
	acks["b"]()
	acks["b"]()
	if got, want := p.ackedBatches(), []string{"d", "a,b,c"}; !slices.Equal(got, want) {
		t.Fatalf("acked %q, want %q", got, want)
	}
	// An empty batch is acked as soon as it is polled.
	if _, _, err := s.Recv(t.Context()); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv: %v, want io.EOF", err)
	}
	if got, want := p.ackedBatches(), []string{"d", "a,b,c", ""}; !slices.Equal(got, want) {
		t.Errorf("acked %q, want %q", got, want)
	}
}

func TestEmptyPollWaitsInterval(t *testing.T) {
	const interval = 30 * time.Millisecond
	p := newScripted(t, batch(), batch(), batch("a"))
	s, err := poll.New[string](poll.Config{Interval: interval}, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Recv(t.Context()); err != nil {
		t.Fatal(err)
	}
	calls := p.callTimes()
	for i := 1; i < len(calls); i++ {
		if d := calls[i].Sub(calls[i-1]); d < interval {
			t.Errorf("poll %d came %v after an empty one, want at least %v", i+1, d, interval)
		}
	}
}

// TestRetryBackoff checks that each retry is logged at Warn with a wait
// below the policy's ceiling (the policy jitters it), and that the poller
// is called again no sooner.
func TestRetryBackoff(t *testing.T) {
	retryable := sluice.Retryable(errBoom)
	p := newScripted(t, result{err: retryable}, result{err: retryable}, result{err: retryable}, result{err: retryable}, batch("a"))
	logs := &recorder{}
	cfg := poll.Config{Retry: retry.Policy{Initial: 10 * time.Millisecond, Max: 25 * time.Millisecond, Multiplier: 2}}
	s, err := poll.New[string](cfg, p, poll.WithLogger(slog.New(logs)))
	if err != nil {
		t.Fatal(err)
	}
	if msg, _, err := s.Recv(t.Context()); err != nil || msg.Value != "a" {
		t.Fatalf("Recv() = %q, %v; want a, nil", msg.Value, err)
	}
	ceilings := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 25 * time.Millisecond, 25 * time.Millisecond}
	lines, calls := logs.lines(), p.callTimes()
	if len(lines) != len(ceilings) || len(calls) != len(ceilings)+1 {
		t.Fatalf("%d polls, logged %q; want %d polls and %d warnings", len(calls), lines, len(ceilings)+1, len(ceilings))
	}
	for i, line := range lines {
		prefix := fmt.Sprintf("WARN poll failed, retrying err=boom attempt=%d backoff=", i+1)
		d, err := time.ParseDuration(strings.TrimPrefix(line, prefix))
		if !strings.HasPrefix(line, prefix) || err != nil {
			t.Fatalf("logged %q, want %s<duration>", line, prefix)
		}
		if d < 0 || d >= ceilings[i] {
			t.Errorf("retry %d: backoff %v, want in [0, %v)", i+1, d, ceilings[i])
		}
		if gap := calls[i+1].Sub(calls[i]); gap < d {
			t.Errorf("retry %d came %v after the failure, want at least %v", i+1, gap, d)
		}
	}
}

// recorder is a slog.Handler that keeps records as "LEVEL msg k=v ...".
type recorder struct {
	mu   sync.Mutex
	recs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	line := rec.Level.String() + " " + rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, line)
	return nil
}

func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.recs)
}

// BenchmarkRecv receives and acks messages polled in batches of 100.
func BenchmarkRecv(b *testing.B) {
	msgs := make([]sluice.Message[string], 100)
	acks := 0
	s, err := poll.New(poll.Config{}, poll.PollFunc[string](func(context.Context, int) ([]sluice.Message[string], func(), error) {
		return msgs, func() { acks++ }, nil
	}))
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		_, ack, err := s.Recv(ctx)
		if err != nil {
			b.Fatal(err)
		}
		ack()
	}
	if acks == 0 {
		b.Fatal("no batch acked")
	}
}
