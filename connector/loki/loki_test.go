package loki_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/internal/storetest"
	"github.com/sluicehq/sluice/connector/loki"
	"github.com/sluicehq/sluice/connector/loki/lokitest"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/syncbuf"
	"github.com/sluicehq/sluice/retry"
	"github.com/sluicehq/sluice/sluicetest"
)

// target is where a test pushes: the in-test Loki, or the real one that
// SLUICE_LOKI_URL names behind a proxy that answers the pushes fault
// picks with its status, as the in-test Loki does.
type target struct {
	url   string // what the destination pushes to
	loki  string // where Query reads
	fault func(n int) (status int, retryAfter string)
	mu    sync.Mutex
}

func newTarget(t *testing.T) *target {
	tg := &target{}
	faultFor := func(n int) (int, string) {
		tg.mu.Lock()
		f := tg.fault
		tg.mu.Unlock()
		if f == nil {
			return 0, ""
		}
		return f(n)
	}
	if real := os.Getenv("SLUICE_LOKI_URL"); real != "" {
		u, err := url.Parse(real)
		if err != nil {
			t.Fatalf("SLUICE_LOKI_URL: %v", err)
		}
		proxy := httputil.NewSingleHostReverseProxy(u)
		var mu sync.Mutex
		n := 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/push") {
				mu.Lock()
				n++
				k := n
				mu.Unlock()
				if status, ra := faultFor(k); status != 0 {
					if ra != "" {
						w.Header().Set("Retry-After", ra)
					}
					http.Error(w, "injected by the test proxy", status)
					return
				}
			}
			proxy.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		tg.url, tg.loki = srv.URL, real
		return tg
	}
	s := lokitest.Start(t)
	s.Fault = faultFor
	tg.url, tg.loki = s.URL, s.URL
	return tg
}

func (tg *target) setFault(f func(n int) (int, string)) {
	tg.mu.Lock()
	tg.fault = f
	tg.mu.Unlock()
}

// read returns the lines of the stream {job="sluicetest", test=name}.
func (tg *target) read(tenant, name string) ([]lokitest.Entry, error) {
	now := time.Now()
	return lokitest.Query(tg.loki, tenant, fmt.Sprintf(`{job="sluicetest", test=%q}`, name), now.Add(-2*lokitest.MaxAge), now.Add(time.Hour))
}

// testName makes a label value of a suite's name, unique per run so that
// a real Loki's earlier runs do not show.
var runID = time.Now().UnixNano()

func testName(name string) string { return fmt.Sprintf("%s-%d", name, runID) }

func ev(raw string) sluice.Message[event.Event] {
	return sluice.Message[event.Event]{Value: event.Event{Raw: []byte(raw), ReceivedAt: time.Now(), Source: "test", SourceType: "test"}}
}

func newDest(t *testing.T, tg *target, name string, b batch.Config, opts ...loki.Option) *loki.Destination {
	t.Helper()
	if b.Retry == (retry.Policy{}) {
		b.Retry = storetest.FastRetry
	}
	d, err := loki.New(loki.Config{URL: tg.url, Labels: map[string]string{"job": "sluicetest", "test": testName(name)}, Batch: b}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestConformance runs the sluicetest suite, reading back what was acked
// with query_range.
func TestConformance(t *testing.T) {
	tg := newTarget(t)
	// A proxy that answers the pushes of a failing test's stream 503, as
	// a Loki with no live ingester would.
	var mu sync.Mutex
	failing := map[string]bool{}
	u, _ := url.Parse(tg.url)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{DisableKeepAlives: true} // no idle connection for the leak check to see
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		mu.Lock()
		fail := false
		for name := range failing {
			fail = fail || bytes.Contains(body, []byte(`"test":"`+name+`"`))
		}
		mu.Unlock()
		if fail {
			http.Error(w, "at least 2 live replicas required, could only find 1", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	front := &target{url: proxy.URL, loki: tg.loki}
	sluicetest.DestinationSuite[event.Event]{
		// Not Ordered, though it holds (one push at a time, each stream in
		// time order): the order rule reads the stream back in every ack,
		// which takes 40s here. TestStreamsAndOrder checks the order.
		// Timeout is how long a message may take from Send to the read
		// back, and an ack or a blocked Send to come: generous, as on a
		// loaded machine the in-process Loki, the proxy, the destination
		// and the suite's polling queries share the CPU (5s, the default,
		// was seen to pass by). Each wait ends as soon as what it waits
		// for holds.
		Features: sluicetest.Features{Durable: true, ConcurrentSend: true, Timeout: time.Minute},
		NewDestination: func(t *testing.T, name string) sluice.Destination[event.Event] {
			return newDest(t, front, name, batch.Config{Count: 16, Age: 5 * time.Millisecond, StopTimeout: time.Second})
		},
		Storage: sluicetest.Storage[event.Event]{Read: func(name string) ([]sluice.Message[event.Event], error) {
			es, err := tg.read("", testName(name))
			msgs := make([]sluice.Message[event.Event], len(es))
			for i, e := range es {
				msgs[i] = ev(e.Line)
			}
			return msgs, err
		}, Fail: func(name string, fail bool) error {
			mu.Lock()
			failing[testName(name)] = fail
			mu.Unlock()
			return nil
		}},
		Wrap:   func(p []byte) sluice.Message[event.Event] { return ev(string(p)) },
		Unwrap: func(m sluice.Message[event.Event]) []byte { return m.Value.Raw },
	}.Run(t)
}

// raws returns the raw lines dead-lettered to dl, sorted.
func raws(dl *storetest.DeadLetter) []string {
	var out []string
	for _, m := range dl.Got() {
		out = append(out, string(m.Value.Raw))
	}
	slices.Sort(out)
	return out
}

// rejections returns the error attribute of each message dead-lettered to dl.
func rejections(dl *storetest.DeadLetter) []string {
	var out []string
	for _, m := range dl.Got() {
		out = append(out, m.Attributes.Value("error"))
	}
	return out
}

type acker struct {
	mu sync.Mutex
	n  int
}

func (a *acker) ack() { a.mu.Lock(); a.n++; a.mu.Unlock() }

func (a *acker) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

func lines(es []lokitest.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Line)
	}
	slices.Sort(out)
	return out
}

// TestRateLimited answers the first three pushes 429 with Retry-After: 1:
// the batch is pushed again no sooner than a second later each time, then
// stored once and acked.
func TestRateLimited(t *testing.T) {
	tg := newTarget(t)
	var mu sync.Mutex
	var at []time.Time
	tg.setFault(func(n int) (int, string) {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		if n <= 3 {
			return http.StatusTooManyRequests, "1"
		}
		return 0, ""
	})
	// Retry-After may hold a retry up to 10 × retry.max.
	d := newDest(t, tg, t.Name(), batch.Config{Count: 3, Age: time.Minute, Retry: retry.Policy{Initial: 10 * time.Millisecond, Max: 200 * time.Millisecond}})
	storetest.Run(t, d)
	a := &acker{}
	if err := d.Send(t.Context(), a.ack, ev("r1"), ev("r2"), ev("r3")); err != nil {
		t.Fatal(err)
	}
	storetest.WaitFor(t, "the ack", func() bool { return a.count() == 1 })
	mu.Lock()
	defer mu.Unlock()
	if len(at) != 4 {
		t.Fatalf("%d pushes, want 3 answered 429 and one stored", len(at))
	}
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < 900*time.Millisecond {
			t.Errorf("push %d came %v after a 429 with Retry-After: 1", i+1, gap)
		}
	}
	got, err := tg.read("", testName(t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	if l := lines(got); !slices.Equal(l, []string{"r1", "r2", "r3"}) {
		t.Errorf("Loki holds %q, want r1 r2 r3 once each", l)
	}
}

// TestServerErrorRetried answers the first push 503 (no live replicas):
// it is retried and the batch stored.
func TestServerErrorRetried(t *testing.T) {
	tg := newTarget(t)
	tg.setFault(func(n int) (int, string) {
		if n == 1 {
			return http.StatusServiceUnavailable, ""
		}
		return 0, ""
	})
	d := newDest(t, tg, t.Name(), batch.Config{Count: 2, Age: time.Minute})
	storetest.Run(t, d)
	a := &acker{}
	if err := d.Send(t.Context(), a.ack, ev("s1"), ev("s2")); err != nil {
		t.Fatal(err)
	}
	storetest.WaitFor(t, "the ack", func() bool { return a.count() == 1 })
	got, _ := tg.read("", testName(t.Name()))
	if l := lines(got); !slices.Equal(l, []string{"s1", "s2"}) {
		t.Errorf("Loki holds %q", l)
	}
}

// TestSomeEntriesRefused pushes one batch holding entries Loki refuses
// (8 days old: too old; 2h behind what the stream already has: too far
// behind, more of them than Loki lists in one answer) between good ones:
// the refused go to the dead letter with Loki's message, the good ones
// are stored once each, and the Send is acked.
func TestSomeEntriesRefused(t *testing.T) {
	tg := newTarget(t)
	dl := &storetest.DeadLetter{}
	d := newDest(t, tg, t.Name(), batch.Config{Count: 1000, Age: 50 * time.Millisecond}, loki.WithDeadLetter(dl))
	storetest.Run(t, d)
	now := time.Now()
	at := func(raw string, ts time.Time) sluice.Message[event.Event] {
		m := ev(raw)
		m.Value.Time = ts
		return m
	}
	a := &acker{}
	if err := d.Send(t.Context(), a.ack, at("first", now)); err != nil {
		t.Fatal(err)
	}
	storetest.WaitFor(t, "the first entry", func() bool { return a.count() == 1 })

	var msgs []sluice.Message[event.Event]
	var wantGood, wantBad []string
	for i := range 5 {
		msgs = append(msgs, at(fmt.Sprintf("good-%02d", i), now.Add(time.Duration(i+1)*time.Millisecond)))
		wantGood = append(wantGood, fmt.Sprintf("good-%02d", i))
	}
	for i := range 3 {
		msgs = append(msgs, at(fmt.Sprintf("old-%02d", i), now.Add(-8*24*time.Hour+time.Duration(i)*time.Second)))
		wantBad = append(wantBad, fmt.Sprintf("old-%02d", i))
	}
	for i := range 14 {
		msgs = append(msgs, at(fmt.Sprintf("behind-%02d", i), now.Add(-2*time.Hour+time.Duration(i)*time.Millisecond)))
		wantBad = append(wantBad, fmt.Sprintf("behind-%02d", i))
	}
	if err := d.Send(t.Context(), a.ack, msgs...); err != nil {
		t.Fatal(err)
	}
	storetest.WaitFor(t, "the batch acked", func() bool { return a.count() == 2 })
	slices.Sort(wantBad)
	if got := raws(dl); !slices.Equal(got, wantBad) {
		t.Errorf("dead letter holds %q, want %q", got, wantBad)
	}
	for i, e := range rejections(dl) {
		if !strings.Contains(e, "400 Bad Request") || !strings.Contains(e, "too old") && !strings.Contains(e, "too far behind") {
			t.Errorf("dead letter error %d %q, want Loki's message", i, e)
		}
	}
	got, err := tg.read("", testName(t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{"first"}, wantGood...)
	slices.Sort(want)
	if l := lines(got); !slices.Equal(l, want) {
		t.Errorf("Loki holds %q, want %q once each", l, want)
	}
}

// TestStreamsAndOrder sends events of two apps out of time order: each
// goes to the stream of its labels (from the template), tenant header
// set, in time order within its stream.
func TestStreamsAndOrder(t *testing.T) {
	tg := newTarget(t)
	name := testName(t.Name())
	d, err := loki.New(loki.Config{URL: tg.url, TenantID: "team-a", Compression: "gzip",
		Labels: map[string]string{"job": "sluicetest", "test": name, "app": "{syslog.appName}", "host": "h-{host}"},
		Batch:  batch.Config{Count: 6, Age: time.Minute, Retry: storetest.FastRetry}})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, d)
	now := time.Now()
	var msgs []sluice.Message[event.Event]
	for i, app := range []string{"web", "db", "web", "db", "web", "db"} {
		m := ev(fmt.Sprintf("%s-%d", app, i))
		m.Value.Time = now.Add(time.Duration(10-i) * time.Millisecond) // newest first
		m.Value.Syslog.Present, m.Value.Syslog.AppName = true, app
		m.Value.Host = "10.0.0.1"
		msgs = append(msgs, m)
	}
	a := &acker{}
	if err := d.Send(t.Context(), a.ack, msgs...); err != nil {
		t.Fatal(err)
	}
	storetest.WaitFor(t, "the ack", func() bool { return a.count() == 1 })
	for _, app := range []string{"web", "db"} {
		es, err := lokitest.Query(tg.loki, "team-a", fmt.Sprintf(`{test=%q, app=%q, host="h-10.0.0.1"}`, name, app), now.Add(-time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range es {
			got = append(got, e.Line)
		}
		want := []string{app + "-5", app + "-3", app + "-1"}
		if app == "web" {
			want = []string{"web-4", "web-2", "web-0"}
		}
		if !slices.Equal(got, want) {
			t.Errorf("stream app=%s holds %q, want %q (by time)", app, got, want)
		}
	}
	if es, _ := lokitest.Query(tg.loki, "", fmt.Sprintf(`{test=%q}`, name), now.Add(-time.Hour), now.Add(time.Hour)); len(es) != 0 && os.Getenv("SLUICE_LOKI_URL") == "" {
		t.Errorf("%d entries without the tenant, want them under team-a only", len(es))
	}
}

// TestRefusedWithoutDeadLetter checks that, with no dead letter, a
// refused entry stops Run with Loki's message and nothing is acked.
func TestRefusedWithoutDeadLetter(t *testing.T) {
	tg := newTarget(t)
	d := newDest(t, tg, t.Name(), batch.Config{Count: 1})
	done := make(chan error, 1)
	go func() { done <- d.Run(t.Context()) }()
	m := ev("ancient")
	m.Value.Time = time.Now().Add(-30 * 24 * time.Hour)
	a := &acker{}
	if err := d.Send(t.Context(), a.ack, m); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "too old") {
			t.Errorf("Run = %v, want Loki's too old message", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
	if a.count() != 0 {
		t.Error("the refused entry was acked")
	}
}

// TestPushSplit sends lines that JSON escaping makes six times longer
// (control bytes become \u0001): a 1 MiB batch would be a 6 MiB push,
// over Loki's 4 MiB limit, so it is pushed in parts, every line stored;
// a line whose push alone would be over the limit goes to the dead
// letter instead of being retried forever.
func TestPushSplit(t *testing.T) {
	if os.Getenv("SLUICE_LOKI_URL") != "" {
		t.Skip("the in-test Loki counts pushes")
	}
	s := lokitest.Start(t)
	tg := &target{url: s.URL, loki: s.URL}
	dl := &storetest.DeadLetter{}
	d := newDest(t, tg, t.Name(), batch.Config{Count: 1000, Bytes: 1 << 20, Age: 20 * time.Millisecond}, loki.WithDeadLetter(dl))
	storetest.Run(t, d)
	var msgs []sluice.Message[event.Event]
	var want []string
	for i := range 50 {
		raw := fmt.Sprintf("%03d", i) + strings.Repeat("\x01", 20<<10)
		msgs = append(msgs, ev(raw))
		want = append(want, raw)
	}
	huge := "huge" + strings.Repeat("\x01", 800<<10)
	a := &acker{}
	if err := d.Send(t.Context(), a.ack, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := d.Send(t.Context(), a.ack, ev(huge)); err != nil {
		t.Fatal(err)
	}
	storetest.WaitFor(t, "both acks", func() bool { return a.count() == 2 })
	got, err := tg.read("", testName(t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	if l := lines(got); !slices.Equal(l, want) {
		t.Errorf("Loki holds %d lines, want the 50 sent", len(l))
	}
	if s.Pushes() < 2 {
		t.Errorf("%d pushes, want the batch split", s.Pushes())
	}
	if r := raws(dl); len(r) != 1 || r[0] != huge || !strings.Contains(rejections(dl)[0], "over Loki's 4194304-byte limit") {
		t.Errorf("dead letter holds %d entries (%q), want the huge line", len(r), rejections(dl))
	}
}

// TestCredentialsNeverShown has a server quote the request's
// Authorization header in its error body: neither the dead letter's
// error nor the log shows the password, nor the base64 of user:password.
func TestCredentialsNeverShown(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusBadRequest} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			srv := storetest.EchoAuth(t, status)
			var logs syncbuf.Buffer
			dl := &storetest.DeadLetter{}
			d, err := loki.New(loki.Config{URL: srv.URL, Username: "writer", Password: "pw-S3cret", Labels: map[string]string{"job": "x"},
				Batch: batch.Config{Count: 1, Retry: retry.Policy{Initial: time.Millisecond, MaxAttempts: 2}}},
				loki.WithDeadLetter(dl), loki.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			if err != nil {
				t.Fatal(err)
			}
			storetest.Run(t, d)
			a := &acker{}
			if err := d.Send(t.Context(), a.ack, ev("x")); err != nil {
				t.Fatal(err)
			}
			storetest.WaitFor(t, "the ack", func() bool { return a.count() == 1 })
			storetest.CheckQuotedNoCredentials(t, logs.String(), dl, "writer", "pw-S3cret")
		})
	}
}
