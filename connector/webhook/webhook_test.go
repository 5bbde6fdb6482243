package webhook_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/webhook"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/syncbuf"
	"github.com/sluicehq/sluice/memory"
	"github.com/sluicehq/sluice/retry"
	"github.com/sluicehq/sluice/sluicetest"
)

func ev(s string) sluice.Message[event.Event] {
	return sluice.Message[event.Event]{Value: event.Event{Raw: []byte(s), SourceType: "test"}}
}

// posted is one event as a receiver sees it, in any of the formats.
type posted struct {
	TS          time.Time `json:"ts"`
	Raw         string    `json:"raw"`
	RawBase64   []byte    `json:"rawBase64"`
	RawLog      *string   `json:"rawLog"`
	SourceType  string    `json:"sourceType"`
	ContentType string    `json:"contentType"`
}

func (p posted) event() event.Event {
	e := event.Event{Time: p.TS, SourceType: p.SourceType, ContentType: p.ContentType, Raw: []byte(p.Raw)}
	switch {
	case p.RawBase64 != nil:
		e.Raw = p.RawBase64
	case p.RawLog != nil:
		e.Raw = []byte(*p.RawLog)
	}
	return e
}

// decodeBody decodes a request body in any of the formats the package
// writes: NDJSON, a JSON array, either gzipped.
func decodeBody(r *http.Request) ([]event.Event, error) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, err
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	var ps []posted
	switch ct := r.Header.Get("Content-Type"); ct {
	case "application/json":
		if err := json.Unmarshal(b, &ps); err != nil {
			return nil, err
		}
	case "application/x-ndjson":
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var p posted
			if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
				return nil, err
			}
			ps = append(ps, p)
		}
		if !bytes.HasSuffix(b, []byte("\n")) && len(b) > 0 {
			return nil, errors.New("NDJSON body does not end with a newline")
		}
	default:
		return nil, fmt.Errorf("unexpected Content-Type %q", ct)
	}
	evs := make([]event.Event, len(ps))
	for i, p := range ps {
		evs[i] = p.event()
	}
	return evs, nil
}

// kind is a destination flavour under test.
type kind struct {
	name string
	new  func(url string, b batch.Config, opts ...webhook.Option) (*webhook.Destination, error)
}

var kinds = []kind{
	{"ndjson", func(url string, b batch.Config, opts ...webhook.Option) (*webhook.Destination, error) {
		return webhook.New(webhook.Config{URL: config.Secret(url), Batch: b, Timeout: 2 * time.Second}, opts...)
	}},
	{"array-gzip", func(url string, b batch.Config, opts ...webhook.Option) (*webhook.Destination, error) {
		return webhook.New(webhook.Config{URL: config.Secret(url), Format: "array", Compression: "gzip", Batch: b, Timeout: 2 * time.Second}, opts...)
	}},
	{"ndjson-gzip", func(url string, b batch.Config, opts ...webhook.Option) (*webhook.Destination, error) {
		return webhook.New(webhook.Config{URL: config.Secret(url), Compression: "gzip", Batch: b, Timeout: 2 * time.Second}, opts...)
	}},
	{"runreveal", func(url string, b batch.Config, opts ...webhook.Option) (*webhook.Destination, error) {
		// runreveal has no batch settings beyond batchSize and flushFreq.
		return webhook.NewRunReveal(webhook.RunRevealConfig{WebhookURL: config.Secret(url), BatchSize: b.Count, FlushFreq: b.Age}, opts...)
	}},
}

func TestConformance(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			// Run keeps retrying for batch.stopTimeout once stopped; runreveal
			// has the default 5s, so it may take a little longer than that.
			f := sluicetest.Features{ConcurrentSend: true, ConcurrentRecv: true}
			if k.name == "runreveal" {
				f.Timeout = 8 * time.Second
			}
			sluicetest.Suite[event.Event]{
				Features: f,
				NewPair: func(t *testing.T, name string) (sluice.Source[event.Event], sluice.Destination[event.Event]) {
					q := memory.New[event.Event](4096)
					srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						evs, err := decodeBody(r)
						if err != nil {
							t.Errorf("%s: %v", name, err)
							http.Error(w, err.Error(), http.StatusBadRequest)
							return
						}
						msgs := make([]sluice.Message[event.Event], len(evs))
						for i := range evs {
							msgs[i].Value = evs[i]
						}
						// A full queue answers 503 at once rather than hold the
						// request: the destination retries.
						ctx, cancel := context.WithTimeout(r.Context(), 50*time.Millisecond)
						defer cancel()
						if err := q.Send(ctx, nil, msgs...); err != nil {
							http.Error(w, err.Error(), http.StatusServiceUnavailable)
							return
						}
					}))
					t.Cleanup(srv.Close)
					d, err := k.new(srv.URL+"/"+name, batch.Config{Count: 16, Age: 5 * time.Millisecond, StopTimeout: time.Second, Retry: fastRetry})
					if err != nil {
						t.Fatal(err)
					}
					return q, d
				},
				Wrap:   func(p []byte) sluice.Message[event.Event] { return ev(string(p)) },
				Unwrap: func(m sluice.Message[event.Event]) []byte { return m.Value.Raw },
			}.Run(t)
		})
	}
}

// sink is a test server that records the events posted to it, after
// answering the first requests with the faults it was given.
type sink struct {
	t      *testing.T
	srv    *httptest.Server
	faults []fault

	mu    sync.Mutex
	n     int               // requests so far
	got   map[string]int    // raw -> times received with a 2xx
	times []time.Time       // arrival of each request
	after map[int]time.Time // when fault i's response was written
	hdr   http.Header       // the last request's headers
}

// fault is how the server answers one request.
type fault struct {
	status     int           // answer with this status
	retryAfter string        // and this Retry-After header ("date+2s": an HTTP date 2s ahead)
	body       string        // and this body
	slow       time.Duration // or answer only after this long
	reset      bool          // or reset the connection
}

func newSink(t *testing.T, faults ...fault) *sink {
	s := &sink{t: t, faults: faults, got: map[string]int{}, after: map[int]time.Time{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := s.n
	s.n++
	s.times = append(s.times, time.Now())
	s.hdr = r.Header.Clone()
	s.mu.Unlock()
	if i < len(s.faults) {
		f := s.faults[i]
		switch {
		case f.reset:
			_, _ = io.Copy(io.Discard, r.Body)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				s.t.Error(err)
				return
			}
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // RST, not FIN
			}
			conn.Close()
			return
		case f.slow > 0:
			select {
			case <-r.Context().Done(): // the client gave up
			case <-time.After(f.slow):
			}
			return // a 200, but too late: the client has timed out
		default:
			if f.retryAfter == "date+2s" {
				w.Header().Set("Retry-After", time.Now().Add(2*time.Second).UTC().Format(http.TimeFormat))
			} else if f.retryAfter != "" {
				w.Header().Set("Retry-After", f.retryAfter)
			}
			w.WriteHeader(f.status)
			_, _ = io.WriteString(w, f.body)
			s.mu.Lock()
			s.after[i] = time.Now()
			s.mu.Unlock()
			return
		}
	}
	evs, err := decodeBody(r)
	if err != nil {
		s.t.Error(err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	for _, e := range evs {
		s.got[string(e.Raw)]++
	}
	s.mu.Unlock()
}

func (s *sink) has(raw string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[raw] > 0
}

func (s *sink) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// run runs d until the test ends; stop cancels it and returns Run's
// error, and done yields that error once Run has returned.
func run(t *testing.T, d *webhook.Destination) (stop func() error, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	finished := make(chan struct{})
	var err error
	go func() {
		err = d.Run(ctx)
		close(finished)
		ch <- err
	}()
	stop = func() error {
		cancel()
		<-finished
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop, ch
}

var fastRetry = retry.Policy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}

func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		name    string
		faults  []fault
		minWait time.Duration // between the fault's response and the next request
	}{
		{name: "500", faults: []fault{{status: 500}, {status: 502}, {status: 503}}},
		{name: "429-retry-after-seconds", faults: []fault{{status: 429, retryAfter: "1"}}, minWait: time.Second},
		// An HTTP date has a resolution of 1s: at least 1s is left of the 2s.
		{name: "503-retry-after-date", faults: []fault{{status: 503, retryAfter: "date+2s"}}, minWait: time.Second},
		{name: "408", faults: []fault{{status: 408}}},
		{name: "slow", faults: []fault{{slow: 5 * time.Second}, {slow: 5 * time.Second}}},
		{name: "reset", faults: []fault{{reset: true}, {reset: true}}},
		{name: "mixed", faults: []fault{{reset: true}, {status: 500}, {slow: 5 * time.Second}, {status: 429, retryAfter: "0"}}},
	} {
		for _, k := range kinds {
			if k.name == "ndjson-gzip" {
				continue
			}
			t.Run(tc.name+"/"+k.name, func(t *testing.T) {
				s := newSink(t, tc.faults...)
				const n = 30
				bc := batch.Config{Count: 10, Age: 5 * time.Millisecond, Retry: fastRetry}
				if tc.minWait > 0 {
					// One batch, so that the request after the fault is its retry.
					bc.Count, bc.Age = n, time.Hour
					bc.Retry.Max = time.Second // retry.After waits at most 10 × Max
				}
				var d *webhook.Destination
				var err error
				if k.name == "runreveal" {
					d, err = k.new(s.srv.URL, bc)
				} else {
					d, err = webhook.New(webhook.Config{URL: config.Secret(s.srv.URL), Format: strings.TrimSuffix(k.name, "-gzip"),
						Compression: map[bool]string{true: "gzip", false: "none"}[strings.HasSuffix(k.name, "-gzip")],
						Timeout:     200 * time.Millisecond,
						Batch:       bc})
				}
				if err != nil {
					t.Fatal(err)
				}
				if k.name == "runreveal" && slices.ContainsFunc(tc.faults, func(f fault) bool { return f.slow > 0 }) {
					t.Skip("runreveal has no timeout setting; its 30s default is too long for this test")
				}
				stop, _ := run(t, d)
				var acked atomic.Int64
				var early atomic.Int64
				var wg sync.WaitGroup
				for i := range n {
					raw := fmt.Sprintf("event-%d", i)
					wg.Add(1)
					if err := d.Send(t.Context(), func() {
						if !s.has(raw) {
							early.Add(1)
						}
						acked.Add(1)
						wg.Done()
					}, ev(raw)); err != nil {
						t.Fatal(err)
					}
				}
				waitWG(t, &wg, 30*time.Second)
				if err := stop(); err != nil {
					t.Errorf("Run: %v", err)
				}
				if e := early.Load(); e != 0 {
					t.Errorf("%d events acked before the server had them", e)
				}
				for i := range n {
					if raw := fmt.Sprintf("event-%d", i); !s.has(raw) {
						t.Errorf("%s lost", raw)
					}
				}
				if got := s.requests(); got <= len(tc.faults) {
					t.Errorf("%d requests, want more than the %d faults", got, len(tc.faults))
				}
				if tc.minWait > 0 {
					s.mu.Lock()
					gap := s.times[1].Sub(s.after[0])
					s.mu.Unlock()
					if gap < tc.minWait {
						t.Errorf("retried %v after a Retry-After of %v", gap, tc.minWait)
					}
				}
			})
		}
	}
}

func waitWG(t *testing.T, wg *sync.WaitGroup, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatal("acks did not arrive")
	}
}

// recorder is a dead-letter destination that holds what it gets until the
// test acks it.
type recorder struct {
	mu   sync.Mutex
	msgs []sluice.Message[event.Event]
	acks []func()
	got  chan struct{}
}

func (r *recorder) Send(ctx context.Context, ack func(), msgs ...sluice.Message[event.Event]) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, msgs...)
	r.acks = append(r.acks, ack)
	r.mu.Unlock()
	select {
	case r.got <- struct{}{}:
	default:
	}
	return nil
}

func TestPermanentToDeadLetter(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			s := newSink(t, fault{status: 400, body: "bad event"})
			dlq := &recorder{got: make(chan struct{}, 1)}
			d, err := k.new(s.srv.URL, batch.Config{Count: 3, Age: time.Hour, Retry: fastRetry}, webhook.WithDeadLetter(dlq))
			if err != nil {
				t.Fatal(err)
			}
			stop, _ := run(t, d)
			var acked atomic.Int64
			if err := d.Send(t.Context(), func() { acked.Add(1) }, ev("a"), ev("b"), ev("c")); err != nil {
				t.Fatal(err)
			}
			select {
			case <-dlq.got:
			case <-time.After(10 * time.Second):
				t.Fatal("nothing reached the dead letter")
			}
			dlq.mu.Lock()
			msgs, acks := slices.Clone(dlq.msgs), slices.Clone(dlq.acks)
			dlq.mu.Unlock()
			if len(msgs) != 3 {
				t.Fatalf("dead letter got %d events, want 3", len(msgs))
			}
			for _, m := range msgs {
				if e := m.Attributes.Value("error"); !strings.Contains(e, "400") || !strings.Contains(e, "bad event") {
					t.Errorf("error attribute = %q, want the status and body", e)
				}
			}
			if s.requests() != 1 {
				t.Errorf("%d requests, want 1: a 400 is not retried", s.requests())
			}
			if acked.Load() != 0 {
				t.Fatal("acked before the dead letter acked")
			}
			for _, a := range acks {
				sluice.Ack(a)
			}
			checkFor(t, 5*time.Second, func() bool { return acked.Load() == 1 })
			if err := stop(); err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
}

func TestPermanentWithoutDeadLetterStops(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   string
	}{
		{400, `400 Bad Request: "no such stream...`},
		{404, "404 Not Found"},
		{413, "413 Request Entity Too Large"},
		{301, "301 Moved Permanently"},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			s := newSink(t, fault{status: tc.status, body: "no such stream" + strings.Repeat(".", 1000)})
			d, err := webhook.New(webhook.Config{URL: config.Secret(s.srv.URL + "/p?token=abcd1234"), Batch: batch.Config{Count: 1, Retry: fastRetry}})
			if err != nil {
				t.Fatal(err)
			}
			_, done := run(t, d)
			var acked atomic.Bool
			if err := d.Send(t.Context(), func() { acked.Store(true) }, ev("x")); err != nil {
				t.Fatal(err)
			}
			var runErr error
			select {
			case runErr = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not stop on a permanent failure")
			}
			if runErr == nil || !strings.Contains(runErr.Error(), tc.want) {
				t.Fatalf("Run = %v, want an error with %q", runErr, tc.want)
			}
			if msg := runErr.Error(); strings.Contains(msg, "abcd1234") || len(msg) > 400 {
				t.Errorf("error %q: want the body truncated and no URL path or query", msg)
			}
			var se *webhook.StatusError
			if !errors.As(runErr, &se) || se.StatusCode != tc.status {
				t.Errorf("Run = %v, want a *StatusError with %d", runErr, tc.status)
			}
			if acked.Load() {
				t.Error("event acked although the POST failed")
			}
			if s.requests() != 1 {
				t.Errorf("%d requests, want 1", s.requests())
			}
		})
	}
}

func TestRetriesExhaustedGoToDeadLetter(t *testing.T) {
	s := newSink(t, fault{status: 500}, fault{status: 500}, fault{status: 500})
	dlq := &recorder{got: make(chan struct{}, 1)}
	p := fastRetry
	p.MaxAttempts = 2
	d, _ := webhook.New(webhook.Config{URL: config.Secret(s.srv.URL), Batch: batch.Config{Count: 1, Retry: p}}, webhook.WithDeadLetter(dlq))
	run(t, d)
	if err := d.Send(t.Context(), nil, ev("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-dlq.got:
	case <-time.After(10 * time.Second):
		t.Fatal("nothing reached the dead letter")
	}
	if n := s.requests(); n != 2 {
		t.Errorf("%d requests, want maxAttempts 2", n)
	}
}

func TestSecretsNeverShown(t *testing.T) {
	const (
		urlToken    = "url-s3cret-token"
		bearer      = "bearer-s3cret"
		headerValue = "header-s3cret"
		password    = "basic-s3cret"
	)
	secretsIn := func(s string) []string {
		var found []string
		for _, v := range []string{urlToken, bearer, headerValue, password} {
			if strings.Contains(s, v) {
				found = append(found, v)
			}
		}
		return found
	}
	// echo answers 401 with everything it was sent.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "denied %s %v", r.URL, r.Header)
	}))
	t.Cleanup(echo.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // connection refused
	for _, tc := range []struct {
		name string
		url  string
		auth func(*webhook.Config)
	}{
		{"401-echo-bearer", echo.URL + "/hook?token=" + urlToken, func(c *webhook.Config) { c.BearerToken = bearer }},
		{"401-echo-basic", echo.URL + "/hook?token=" + urlToken, func(c *webhook.Config) {
			c.BasicAuth = &webhook.BasicAuth{Username: "u", Password: password}
		}},
		{"refused", closed.URL + "/hook/" + urlToken + "?token=" + urlToken, func(c *webhook.Config) { c.BearerToken = bearer }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			var mu sync.Mutex
			log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
			p := fastRetry
			p.MaxAttempts = 3
			c := webhook.Config{URL: config.Secret(tc.url), Headers: map[string]config.Secret{"X-Key": headerValue},
				Batch: batch.Config{Count: 1, Retry: p}}
			tc.auth(&c)
			d, err := webhook.New(c, webhook.WithLogger(log))
			if err != nil {
				t.Fatal(err)
			}
			_, done := run(t, d)
			if err := d.Send(t.Context(), nil, ev("x")); err != nil {
				t.Fatal(err)
			}
			var runErr error
			select {
			case runErr = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not stop")
			}
			if runErr == nil {
				t.Fatal("Run = nil, want an error")
			}
			if s := secretsIn(runErr.Error()); s != nil {
				t.Errorf("error shows %q: %v", s, runErr)
			}
			if got := fmt.Sprintf("%+v %#v", c, c); secretsIn(got) != nil {
				t.Errorf("printed config shows %q", secretsIn(got))
			}
			mu.Lock()
			out := logs.String()
			mu.Unlock()
			if s := secretsIn(out); s != nil {
				t.Errorf("logs show %q:\n%s", s, out)
			}
			if !strings.Contains(runErr.Error(), "http://127.0.0.1") {
				t.Errorf("error %q does not name the endpoint", runErr)
			}
			t.Logf("error: %v", runErr)
		})
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestRequest(t *testing.T) {
	at := time.Date(2026, 11, 24, 23, 0, 0, 123456789, time.UTC)
	msg := sluice.Message[event.Event]{Value: event.Event{Time: at, ReceivedAt: at, SourceType: "syslog", ContentType: "nginx", Raw: []byte("line \"one\"\n")}}
	for _, tc := range []struct {
		name        string
		cfg         webhook.Config
		runreveal   bool
		ctype, cenc string
		auth        string
		body        string
	}{
		{name: "ndjson", cfg: webhook.Config{BearerToken: "tok"}, ctype: "application/x-ndjson", auth: "Bearer tok",
			body: strings.Repeat(`{"ts":"2026-11-24T23:00:00.123456789Z","receivedAt":"2026-11-24T23:00:00.123456789Z","sourceType":"syslog","contentType":"nginx","raw":"line \"one\"\n"}`+"\n", 2)},
		{name: "array-gzip", cfg: webhook.Config{Format: "array", Compression: "gzip", BasicAuth: &webhook.BasicAuth{Username: "u", Password: "p"}},
			ctype: "application/json", cenc: "gzip", auth: "Basic dTpw",
			body: `[{"ts":"2026-11-24T23:00:00.123456789Z","receivedAt":"2026-11-24T23:00:00.123456789Z","sourceType":"syslog","contentType":"nginx","raw":"line \"one\"\n"},` +
				`{"ts":"2026-11-24T23:00:00.123456789Z","receivedAt":"2026-11-24T23:00:00.123456789Z","sourceType":"syslog","contentType":"nginx","raw":"line \"one\"\n"}]`},
		{name: "raw", cfg: webhook.Config{Format: "raw"}, ctype: "text/plain; charset=utf-8", body: "line \"one\"\n\nline \"one\"\n\n"},
		{name: "runreveal", runreveal: true, ctype: "application/json",
			body: `[{"ts":"2026-11-24T23:00:00.123456789Z","sourceType":"syslog","contentType":"nginx","rawLog":"line \"one\"\n"},` +
				`{"ts":"2026-11-24T23:00:00.123456789Z","sourceType":"syslog","contentType":"nginx","rawLog":"line \"one\"\n"}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			type req struct {
				h    http.Header
				body string
			}
			reqs := make(chan req, 10)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reqs <- req{r.Header.Clone(), string(readBody(t, r))}
			}))
			t.Cleanup(srv.Close)
			var d *webhook.Destination
			var err error
			if tc.runreveal {
				d, err = webhook.NewRunReveal(webhook.RunRevealConfig{WebhookURL: config.Secret(srv.URL), BatchSize: 2})
			} else {
				c := tc.cfg
				c.URL = config.Secret(srv.URL)
				c.Headers = map[string]config.Secret{"X-Custom": "v"}
				c.Batch = batch.Config{Count: 2, Age: time.Hour}
				d, err = webhook.New(c)
			}
			if err != nil {
				t.Fatal(err)
			}
			run(t, d)
			done := make(chan struct{})
			if err := d.Send(t.Context(), func() { close(done) }, msg, msg); err != nil {
				t.Fatal(err)
			}
			var r req
			select {
			case r = <-reqs:
			case <-time.After(5 * time.Second):
				t.Fatal("no request")
			}
			<-done
			if r.body != tc.body {
				t.Errorf("body\n got %s\nwant %s", r.body, tc.body)
			}
			for k, want := range map[string]string{"Content-Type": tc.ctype, "Content-Encoding": tc.cenc, "Authorization": tc.auth} {
				if got := r.h.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if !tc.runreveal && r.h.Get("X-Custom") != "v" {
				t.Errorf("X-Custom = %q, want v", r.h.Get("X-Custom"))
			}
		})
	}
}

// TestJSONRaw posts a parsed syslog event, an unparsed one and one whose
// parse failed, and checks which of them carry "raw".
func TestJSONRaw(t *testing.T) {
	parsed := event.Event{SourceType: "syslog", Raw: []byte("<13>1 - h app - - - hi"),
		Syslog: event.Syslog{Present: true, Facility: 1, Severity: 5, Version: 1, Hostname: "h", AppName: "app", Message: "hi"}}
	unparsed := event.Event{SourceType: "syslog", Raw: []byte("plain")}
	failed := event.Event{SourceType: "syslog", Raw: []byte("<13 broken"), Flags: event.ParseError}
	msgs := []sluice.Message[event.Event]{{Value: parsed}, {Value: unparsed}, {Value: failed}}
	for _, tc := range []struct {
		name      string
		cfg       webhook.Config
		runreveal bool
		rawKey    string
		want      []bool // whether each of msgs has rawKey
	}{
		{name: "ndjson default", cfg: webhook.Config{}, rawKey: "raw", want: []bool{true, true, true}},
		{name: "ndjson always", cfg: webhook.Config{JSONRaw: "always"}, rawKey: "raw", want: []bool{true, true, true}},
		{name: "ndjson unparsed", cfg: webhook.Config{JSONRaw: "unparsed"}, rawKey: "raw", want: []bool{false, true, true}},
		{name: "array unparsed", cfg: webhook.Config{Format: "array", JSONRaw: "unparsed"}, rawKey: "raw", want: []bool{false, true, true}},
		{name: "array-gzip unparsed", cfg: webhook.Config{Format: "array", Compression: "gzip", JSONRaw: "unparsed"}, rawKey: "raw", want: []bool{false, true, true}},
		{name: "array always", cfg: webhook.Config{Format: "array", JSONRaw: "always"}, rawKey: "raw", want: []bool{true, true, true}},
		// raw and runreveal send the original bytes: there is nothing else.
		{name: "raw unparsed", cfg: webhook.Config{Format: "raw", JSONRaw: "unparsed"}},
		{name: "runreveal", runreveal: true, rawKey: "rawLog", want: []bool{true, true, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bodies := make(chan []byte, 10)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				bodies <- readBody(t, r)
			}))
			t.Cleanup(srv.Close)
			var d *webhook.Destination
			var err error
			if tc.runreveal {
				d, err = webhook.NewRunReveal(webhook.RunRevealConfig{WebhookURL: config.Secret(srv.URL), BatchSize: len(msgs)})
			} else {
				c := tc.cfg
				c.URL = config.Secret(srv.URL)
				c.Batch = batch.Config{Count: len(msgs), Age: time.Hour}
				d, err = webhook.New(c)
			}
			if err != nil {
				t.Fatal(err)
			}
			run(t, d)
			done := make(chan struct{})
			if err := d.Send(t.Context(), func() { close(done) }, msgs...); err != nil {
				t.Fatal(err)
			}
			var body []byte
			select {
			case body = <-bodies:
			case <-time.After(5 * time.Second):
				t.Fatal("no request")
			}
			<-done
			if tc.rawKey == "" {
				if want := "<13>1 - h app - - - hi\nplain\n<13 broken\n"; string(body) != want {
					t.Errorf("body %q, want %q", body, want)
				}
				return
			}
			var objs []map[string]json.RawMessage
			if tc.cfg.Format == "" && !tc.runreveal { // ndjson
				for line := range bytes.Lines(body) {
					var o map[string]json.RawMessage
					if err := json.Unmarshal(line, &o); err != nil {
						t.Fatalf("%v in %s", err, body)
					}
					objs = append(objs, o)
				}
			} else if err := json.Unmarshal(body, &objs); err != nil {
				t.Fatalf("%v in %s", err, body)
			}
			if len(objs) != len(msgs) {
				t.Fatalf("got %d events, want %d: %s", len(objs), len(msgs), body)
			}
			for i, o := range objs {
				if _, ok := o[tc.rawKey]; ok != tc.want[i] {
					t.Errorf("event %d has %q: %v, want %v: %s", i, tc.rawKey, ok, tc.want[i], body)
				}
				if _, ok := o["rawBase64"]; ok {
					t.Errorf("event %d has rawBase64: %s", i, body)
				}
				if !tc.runreveal && i == 0 {
					if _, ok := o["syslog"]; !ok {
						t.Errorf("parsed event has no syslog: %s", body)
					}
				}
			}
		})
	}
}

func TestRunTwice(t *testing.T) {
	s := newSink(t)
	d, err := webhook.New(webhook.Config{URL: config.Secret(s.srv.URL), Batch: batch.Config{Count: 1}})
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := run(t, d)
	done := make(chan struct{})
	if err := d.Send(t.Context(), func() { close(done) }, ev("x")); err != nil {
		t.Fatal(err)
	}
	<-done // acked: Run is running
	if err := d.Run(t.Context()); !errors.Is(err, sluice.ErrAlreadyRunning) {
		t.Errorf("second Run = %v, want ErrAlreadyRunning", err)
	}
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		new  func() error
		want string
	}{
		{"no url", func() error { _, err := webhook.New(webhook.Config{}); return err }, "webhook: url: required"},
		{"format", func() error { _, err := webhook.New(webhook.Config{URL: "http://h", Format: "xml"}); return err }, `format: want ndjson, array or raw, got "xml"`},
		{"compression", func() error {
			_, err := webhook.New(webhook.Config{URL: "http://h", Compression: "zstd"})
			return err
		}, `compression: want none or gzip, got "zstd"`},
		{"scheme", func() error { _, err := webhook.New(webhook.Config{URL: "ftp://h/s3cret"}); return err }, "url: want an http:// or https:// URL"},
		{"bad url", func() error { _, err := webhook.New(webhook.Config{URL: "http://h/%zz-s3cret"}); return err }, "url: not a valid URL"},
		{"both auths", func() error {
			_, err := webhook.New(webhook.Config{URL: "http://h", BearerToken: "t", BasicAuth: &webhook.BasicAuth{Username: "u"}})
			return err
		}, "basicAuth: set bearerToken or basicAuth, not both"},
		{"half a key pair", func() error {
			_, err := webhook.New(webhook.Config{URL: "http://h", TLS: webhook.TLSConfig{CertFile: "c.pem"}})
			return err
		}, "tls.keyFile: required with tls.certFile"},
		{"jsonRaw", func() error {
			_, err := webhook.New(webhook.Config{URL: "http://h/s3cret", JSONRaw: "never"})
			return err
		}, `jsonRaw: want always or unparsed, got "never"`},
		{"runreveal no url", func() error { _, err := webhook.NewRunReveal(webhook.RunRevealConfig{}); return err }, "runreveal: webhookURL: required"},
		{"runreveal size", func() error {
			_, err := webhook.NewRunReveal(webhook.RunRevealConfig{WebhookURL: "https://h", BatchSize: -1})
			return err
		}, "batchSize: want 0 or more, got"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.new()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the URL", err)
			}
		})
	}
}

// TestMissingTLSFileFailsRun: a TLS file that does not load fails Run at
// start; the events sent before are not acked, and the error counts them.
func TestMissingTLSFileFailsRun(t *testing.T) {
	d, err := webhook.New(webhook.Config{URL: "https://h", TLS: webhook.TLSConfig{CAFile: "/nonexistent/ca.pem"}})
	if err != nil {
		t.Fatalf("New = %v; it must not read the TLS files", err)
	}
	var acked atomic.Bool
	if err := d.Send(t.Context(), func() { acked.Store(true) }, ev("a"), ev("b"), ev("c")); err != nil {
		t.Fatal(err)
	}
	err = d.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "tls") || !strings.Contains(err.Error(), "3 messages not delivered") {
		t.Errorf("Run = %v, want a tls error counting 3 events", err)
	}
	if errors.Is(err, sluice.ErrUndelivered) {
		t.Errorf("Run = %v: a failed start is a failure, not only ErrUndelivered", err)
	}
	if acked.Load() {
		t.Error("acked events that were never posted")
	}
	if err := d.Send(t.Context(), nil, ev("late")); !errors.Is(err, sluice.ErrClosed) {
		t.Errorf("Send after Run failed = %v, want ErrClosed", err)
	}
}

// TestStopWhileEndpointDown stops a webhook and a RunReveal destination
// whose endpoint has refused every connection since the start: the events
// held are not acked, and Run reports how many with ErrUndelivered (the
// daemon then exits non-zero) instead of nil, which would claim a clean
// drain.
func TestStopWhileEndpointDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String() + "/hook/tok3n-in-the-path"
	l.Close() // connections are refused
	for _, tc := range []struct {
		name string
		new  func(webhook.Option) (*webhook.Destination, error)
	}{
		{"webhook", func(o webhook.Option) (*webhook.Destination, error) {
			return webhook.New(webhook.Config{URL: config.Secret(url), Batch: batch.Config{Count: 100, Age: 10 * time.Millisecond,
				Retry: fastRetry, StopTimeout: 200 * time.Millisecond}}, o)
		}},
		{"runreveal", func(o webhook.Option) (*webhook.Destination, error) {
			return webhook.NewRunReveal(webhook.RunRevealConfig{WebhookURL: config.Secret(url), FlushFreq: 10 * time.Millisecond}, o)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncbuf.Buffer
			d, err := tc.new(webhook.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			if err != nil {
				t.Fatal(err)
			}
			stop, _ := run(t, d)
			var acks atomic.Int32
			for i := range 5 {
				if err := d.Send(t.Context(), func() { acks.Add(1) }, ev(fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
			}
			checkFor(t, 5*time.Second, func() bool { return strings.Contains(logs.String(), "flush failed, retrying") })
			err = stop()
			if !errors.Is(err, sluice.ErrUndelivered) || !strings.Contains(err.Error(), "5 messages not flushed") {
				t.Errorf("Run = %v, want ErrUndelivered for 5 events", err)
			}
			if n := acks.Load(); n != 0 {
				t.Errorf("%d events acked, want none", n)
			}
			if !strings.Contains(logs.String(), "messages=5") || strings.Contains(logs.String(), "tok3n") {
				t.Errorf("logs do not count the 5 events, or show the path:\n%s", logs.String())
			}
		})
	}
}

func TestHooks(t *testing.T) {
	s := newSink(t, fault{status: 503})
	var mu sync.Mutex
	var causes []string
	var events, bytesOut int
	d, _ := webhook.New(webhook.Config{URL: config.Secret(s.srv.URL), Batch: batch.Config{Count: 2, Retry: fastRetry}},
		webhook.WithHooks(webhook.Hooks{
			Posted: func(n, b int, _ time.Duration) { mu.Lock(); events += n; bytesOut += b; mu.Unlock() },
			Failed: func(c string) { mu.Lock(); causes = append(causes, c); mu.Unlock() },
		}))
	stop, _ := run(t, d)
	done := make(chan struct{})
	if err := d.Send(t.Context(), func() { close(done) }, ev("a"), ev("b")); err != nil {
		t.Fatal(err)
	}
	<-done
	_ = stop()
	mu.Lock()
	defer mu.Unlock()
	if events != 2 || bytesOut == 0 || !slices.Equal(causes, []string{"http_503"}) {
		t.Errorf("posted %d events, %d bytes; failures %q; want 2, >0, [http_503]", events, bytesOut, causes)
	}
}

// checkFor polls cond until it holds or d has passed.
func checkFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readBody returns r's body, gunzipped if its Content-Encoding says so.
func readBody(t *testing.T, r *http.Request) []byte {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Error(err)
			return nil
		}
		body = zr
	}
	b, _ := io.ReadAll(body)
	return b
}

// TestErrorBodyMaskedBeforeCut: a server that echoes a secret across the
// 256-byte cut of the quoted error body, or across the end of what is
// read of it, or many times so that masking shortens the body, shows no
// piece of it: the body is masked first, then cut.
func TestErrorBodyMaskedBeforeCut(t *testing.T) {
	const (
		pathToken = "PathTokenAbcdefgh12345678"
		bearer    = "BearerSecretQrstuvw98765432"
		header    = "HeaderSecretZyxwvut11223344"
		password  = "BasicPassLmnopqr55667788"
	)
	basic := base64.StdEncoding.EncodeToString([]byte("user:" + password))
	for _, tc := range []struct {
		name string
		body func(secret string) string
	}{
		{"across the cut", func(s string) string { return strings.Repeat("x", 256-len(s)/2) + s + " tail" }},
		{"just before the cut", func(s string) string { return strings.Repeat("x", 255) + s }},
		{"across the end of the read", func(s string) string { return strings.Repeat("y", 16<<10-len(s)/2) + s + strings.Repeat("z", 1000) }},
		{"many times, then across the end of the read", func(s string) string {
			b := strings.Repeat(s, (16<<10)/len(s)+1)
			return b[:16<<10-5] + s + "after"
		}},
		{"escaped", func(s string) string { return strings.Repeat("x", 250) + url.QueryEscape(s) }},
	} {
		for _, secret := range []string{pathToken, bearer, header, password, basic} {
			t.Run(tc.name+"/"+secret[:8], func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(http.StatusForbidden)
					io.WriteString(w, tc.body(secret))
				}))
				t.Cleanup(srv.Close)
				c := webhook.Config{URL: config.Secret(srv.URL + "/hook/" + pathToken + "?x=1"), BearerToken: bearer,
					Headers: map[string]config.Secret{"X-Key": header}, Batch: batch.Config{Count: 1}}
				if secret == password || secret == basic {
					c.BearerToken, c.BasicAuth = "", &webhook.BasicAuth{Username: "user", Password: password}
				}
				d, err := webhook.New(c)
				if err != nil {
					t.Fatal(err)
				}
				_, done := run(t, d)
				if err := d.Send(t.Context(), nil, ev("x")); err != nil {
					t.Fatal(err)
				}
				var runErr error
				select {
				case runErr = <-done:
				case <-time.After(10 * time.Second):
					t.Fatal("Run did not stop")
				}
				var se *webhook.StatusError
				if !errors.As(runErr, &se) {
					t.Fatalf("Run = %v, want a StatusError", runErr)
				}
				if len(se.Body) > 256+len("…") {
					t.Errorf("quoted body is %d bytes, want at most 256 and an ellipsis", len(se.Body))
				}
				for _, s := range []string{pathToken, bearer, header, password, basic} {
					for i := 0; i+8 <= len(s); i++ {
						if strings.Contains(runErr.Error(), s[i:i+8]) {
							t.Fatalf("error shows %q, a piece of a secret: %v", s[i:i+8], runErr)
						}
					}
				}
			})
		}
	}
}
