package httpsrc

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/sluicetest"
)

// client is a destination that POSTs each Send's messages to a Source as
// NDJSON, one JSON string per message, and acks the Send when the source
// answers 2xx, that is once the source's consumer acked them all. Since
// that takes a Recv, Send does not wait for the answer: it hands the POST
// to a goroutine, and blocks only while 16 POSTs are in flight. Run ends
// the POSTs in flight and waits for them.
type client struct {
	src    *Source
	hc     *http.Client
	base   context.Context
	cancel context.CancelFunc
	sem    chan struct{}

	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup
}

func newClient(src *Source) *client {
	base, cancel := context.WithCancel(context.Background())
	return &client{src: src, hc: &http.Client{Transport: &http.Transport{}}, base: base, cancel: cancel,
		sem: make(chan struct{}, 16)}
}

func (c *client) Send(ctx context.Context, ack func(), msgs ...sluice.Message[event.Event]) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(msgs) == 0 {
		sluice.Ack(ack)
		return nil
	}
	addr, err := c.src.Addr(ctx)
	if err != nil {
		return err
	}
	var body []byte
	for _, m := range msgs {
		b, _ := json.Marshal(string(m.Value.Raw))
		body = append(append(body, b...), '\n')
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		<-c.sem
		return sluice.ErrClosed
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		defer func() { <-c.sem }()
		req, err := http.NewRequestWithContext(c.base, http.MethodPost, "http://"+addr.String()+"/", bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := c.hc.Do(req)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			sluice.Ack(ack)
		}
	}()
	return nil
}

func (c *client) Run(ctx context.Context) error {
	<-ctx.Done()
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.hc.CloseIdleConnections()
	return nil
}

func TestConformance(t *testing.T) {
	sluicetest.Suite[event.Event]{
		// Not Durable: what was received and not acked is redelivered
		// only if the client retries. Not Ordered: the client posts
		// concurrently.
		Features: sluicetest.Features{ConcurrentRecv: true, ConcurrentSend: true},
		NewPair: func(t *testing.T, name string) (sluice.Source[event.Event], sluice.Destination[event.Event]) {
			s, err := New(Config{Addr: "127.0.0.1:0", Format: "ndjson", RequestTimeout: time.Minute}, name)
			if err != nil {
				t.Fatal(err)
			}
			return s, newClient(s)
		},
		Wrap: func(p []byte) sluice.Message[event.Event] {
			return sluice.Message[event.Event]{Value: event.Event{Raw: p}}
		},
		Unwrap: func(m sluice.Message[event.Event]) []byte {
			var s string
			if err := json.Unmarshal(m.Value.Raw, &s); err != nil {
				return m.Value.Raw
			}
			return []byte(s)
		},
	}.Run(t)
}

// start runs a Source on a free port until the test ends and returns it
// with its URL. The cleanup checks that Run returned nil.
func start(t *testing.T, c Config, opts ...Option) (*Source, string, context.CancelFunc, <-chan error) {
	t.Helper()
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	s, err := New(c, "web", opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	var once sync.Once
	var runErr error
	wait := func() error {
		once.Do(func() { runErr = <-ran })
		return runErr
	}
	t.Cleanup(func() {
		cancel()
		if err := wait(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	addr, err := s.Addr(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	path := c.Path
	if path == "" {
		path = "/"
	}
	done := make(chan error, 1)
	go func() { done <- wait() }()
	return s, "http://" + addr.String() + path, cancel, done
}

type reply struct {
	status int
	body   string
	header http.Header
}

// post sends body and returns the reply; headers are name, value pairs.
func post(t *testing.T, url, ctype string, body []byte, headers ...string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, string(b), resp.Header}
}

// goPost posts in a goroutine; the reply comes on the channel.
func goPost(t *testing.T, url, ctype string, body []byte, headers ...string) <-chan reply {
	t.Helper()
	ch := make(chan reply, 1)
	go func() {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			ch <- reply{status: -1, body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		ch <- reply{resp.StatusCode, string(b), resp.Header}
	}()
	return ch
}

// consume receives and acks n events.
func consume(t *testing.T, s *Source, n int) []event.Event {
	t.Helper()
	var evs []event.Event
	for range n {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		m, ack, err := s.Recv(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Recv after %d events: %v", len(evs), err)
		}
		ack()
		evs = append(evs, m.Value)
	}
	return evs
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFormats(t *testing.T) {
	tests := []struct {
		name    string
		format  string
		ctype   string
		body    string
		gzip    bool
		want    []string
		wantErr string // for 400
	}{
		{"auto ndjson is lines", "auto", "application/x-ndjson", "{\"a\":1}\n{\"b\": 2}\r\n\n", false, []string{`{"a":1}`, `{"b": 2}`}, ""},
		{"auto text", "auto", "text/plain; charset=utf-8", "one\ntwo  \nthree", false, []string{"one", "two  ", "three"}, ""},
		{"auto json array", "auto", "application/json", "[{\"a\": 1}, \"line\", {\"b\":[1, 2]}]", false, []string{`{"a":1}`, "line", `{"b":[1,2]}`}, ""},
		{"auto json object", "auto", "application/json", " {\"a\" : \"x y\"}\n", false, []string{`{"a":"x y"}`}, ""},
		{"ndjson keeps the text", "ndjson", "", "{\"a\": 1}\n\"s\"\n", false, []string{`{"a": 1}`, `"s"`}, ""},
		{"json compact as received", "json", "", `[{"a":"\u00e9"}]`, false, []string{`{"a":"\u00e9"}`}, ""},
		{"lines", "lines", "application/octet-stream", "a\r\nb\n", false, []string{"a", "b"}, ""},
		{"gzip ndjson", "ndjson", "", "{\"a\":1}\n{\"b\":2}\n", true, []string{`{"a":1}`, `{"b":2}`}, ""},
		{"empty body", "ndjson", "", "", false, nil, ""},
		{"bad ndjson", "ndjson", "", "{\"a\":1}\n{\"a\":\n", false, nil, "line 2: invalid JSON"},
		{"bad json", "json", "", `[{"a":1},`, false, nil, "invalid JSON"},
		{"json number element", "json", "", `[{"a":1}, 3]`, false, nil, "element 1: want an object or a string"},
		{"json scalar", "json", "", `42`, false, nil, "want a JSON array or object"},
		{"auto json bad", "auto", "application/json", `{"a"`, false, nil, "invalid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, url, _, _ := start(t, Config{Format: tc.format, ContentType: "app-logs"})
			body := []byte(tc.body)
			var hdr []string
			if tc.gzip {
				body, hdr = gz(t, body), []string{"Content-Encoding", "gzip"}
			}
			ch := goPost(t, url, tc.ctype, body, hdr...)
			if tc.wantErr != "" {
				r := <-ch
				if r.status != http.StatusBadRequest || !strings.Contains(r.body, tc.wantErr) {
					t.Errorf("got %d %q, want 400 with %q", r.status, r.body, tc.wantErr)
				}
				if n := s.q.Len(); n != 0 {
					t.Errorf("%d events queued for a bad body, want 0", n)
				}
				return
			}
			evs := consume(t, s, len(tc.want))
			r := <-ch
			if want := `{"accepted":` + itoa(len(tc.want)) + "}\n"; r.status != http.StatusOK || r.body != want {
				t.Errorf("got %d %q, want 200 %q", r.status, r.body, want)
			}
			for i, ev := range evs {
				if string(ev.Raw) != tc.want[i] {
					t.Errorf("event %d: got raw %q, want %q", i, ev.Raw, tc.want[i])
				}
				if ev.Source != "web" || ev.SourceType != "http" || ev.Host != "127.0.0.1" || ev.ContentType != "app-logs" || ev.ReceivedAt.IsZero() {
					t.Errorf("event %d: got source %q, sourceType %q, host %q, contentType %q, receivedAt %v", i, ev.Source, ev.SourceType, ev.Host, ev.ContentType, ev.ReceivedAt)
				}
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestRejects(t *testing.T) {
	bomb := gz(t, bytes.Repeat([]byte("a"), 1<<20)) // ~1 KiB that inflates to 1 MiB
	tests := []struct {
		name    string
		cfg     Config
		method  string
		path    string
		ctype   string
		body    []byte
		headers []string
		status  int
		want    string
	}{
		{"GET", Config{}, http.MethodGet, "/", "text/plain", nil, nil, http.StatusMethodNotAllowed, "use POST"},
		{"other path", Config{Path: "/in"}, http.MethodPost, "/out", "text/plain", []byte("a"), nil, http.StatusNotFound, "not found"},
		{"body too large", Config{MaxBodyBytes: 10}, http.MethodPost, "/", "text/plain", []byte("0123456789a"), nil, http.StatusRequestEntityTooLarge, "body over 10 bytes"},
		{"gzip bomb", Config{MaxBodyBytes: 64 << 10}, http.MethodPost, "/", "text/plain", bomb, []string{"Content-Encoding", "gzip"}, http.StatusRequestEntityTooLarge, "after decompression"},
		{"bad gzip", Config{}, http.MethodPost, "/", "text/plain", []byte("not gzip"), []string{"Content-Encoding", "gzip"}, http.StatusBadRequest, "gzip"},
		{"unknown encoding", Config{}, http.MethodPost, "/", "text/plain", []byte("a"), []string{"Content-Encoding", "br"}, http.StatusUnsupportedMediaType, "Content-Encoding"},
		{"too many events", Config{MaxEvents: 2}, http.MethodPost, "/", "text/plain", []byte("a\nb\nc\n"), nil, http.StatusRequestEntityTooLarge, "more than 2 events"},
		{"too many json events", Config{MaxEvents: 1, Format: "json"}, http.MethodPost, "/", "", []byte(`[{},{}]`), nil, http.StatusRequestEntityTooLarge, "more than 1 events"},
		{"auto unknown type", Config{}, http.MethodPost, "/", "image/png", []byte("a"), nil, http.StatusUnsupportedMediaType, "Content-Type"},
		{"bearer missing", Config{BearerToken: "s3cret"}, http.MethodPost, "/", "text/plain", []byte("a"), nil, http.StatusUnauthorized, "credentials required"},
		{"bearer wrong", Config{BearerToken: "s3cret"}, http.MethodPost, "/", "text/plain", []byte("a"), []string{"Authorization", "Bearer nope"}, http.StatusForbidden, "wrong credentials"},
		{"basic missing", Config{BasicAuth: &BasicAuth{Username: "u", Password: "p"}}, http.MethodPost, "/", "text/plain", []byte("a"), nil, http.StatusUnauthorized, "credentials required"},
		{"basic wrong", Config{BasicAuth: &BasicAuth{Username: "u", Password: "p"}}, http.MethodPost, "/", "text/plain", []byte("a"), []string{"Authorization", "Basic dTpx"}, http.StatusForbidden, "wrong credentials"},
		{"basic instead of bearer", Config{BearerToken: "s3cret"}, http.MethodPost, "/", "text/plain", []byte("a"), []string{"Authorization", "Basic dTpw"}, http.StatusForbidden, "wrong credentials"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var count counts
			s, url, _, _ := start(t, tc.cfg, WithCounters(&count))
			url = strings.TrimSuffix(url, strings.TrimPrefix(tc.cfg.Path, "/")) + strings.TrimPrefix(tc.path, "/")
			req, err := http.NewRequestWithContext(t.Context(), tc.method, url, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tc.ctype)
			for i := 0; i+1 < len(tc.headers); i += 2 {
				req.Header.Set(tc.headers[i], tc.headers[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.want) {
				t.Errorf("got %d %q, want %d with %q", resp.StatusCode, b, tc.status, tc.want)
			}
			if n := s.q.Len(); n != 0 {
				t.Errorf("%d events queued, want 0", n)
			}
			if want := "http_" + itoa(tc.status); tc.status != http.StatusBadRequest && count.get(want) != 1 {
				t.Errorf("Error(%q) counted %d times, want 1", want, count.get(want))
			}
		})
	}
}

func TestAuthAccepted(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		header string
	}{
		{"bearer", Config{BearerToken: "s3cret"}, "Bearer s3cret"},
		{"basic", Config{BasicAuth: &BasicAuth{Username: "u", Password: "p"}}, "Basic dTpw"},
		{"bearer scheme in lower case", Config{BearerToken: "s3cret"}, "bearer s3cret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, url, _, _ := start(t, tc.cfg)
			ch := goPost(t, url, "text/plain", []byte("a"), "Authorization", tc.header)
			consume(t, s, 1)
			if r := <-ch; r.status != http.StatusOK {
				t.Errorf("got %d %q, want 200", r.status, r.body)
			}
		})
	}
}

type counts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counts) ParseFailed(n int)  { c.add("parse", n) }
func (c *counts) Error(cause string) { c.add(cause, 1) }
func (c *counts) add(k string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[k] += n
}
func (c *counts) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

// quiet reports whether ch stays empty for a short while. It checks that
// a reply does not come; nothing else waits on it.
func quiet(ch <-chan reply) bool {
	select {
	case <-ch:
		return false
	case <-time.After(100 * time.Millisecond):
		return true
	}
}

func TestReplyAfterAck(t *testing.T) {
	s, url, _, _ := start(t, Config{})
	ch := goPost(t, url, "text/plain", []byte("a\nb\nc\n"))
	var acks []func()
	for range 3 {
		_, ack, err := s.Recv(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, ack)
	}
	if !quiet(ch) {
		t.Fatal("replied before any event was acked")
	}
	acks[0]()
	acks[1]()
	acks[1]() // a second ack of one event must not count for another
	if !quiet(ch) {
		t.Fatal("replied with 2 of 3 events acked")
	}
	acks[2]()
	if r := <-ch; r.status != http.StatusOK || r.body != "{\"accepted\":3}\n" {
		t.Errorf("got %d %q, want 200 {\"accepted\":3}", r.status, r.body)
	}
}

func TestNotAckedInTime(t *testing.T) {
	s, url, _, _ := start(t, Config{RequestTimeout: 200 * time.Millisecond})
	ch := goPost(t, url, "text/plain", []byte("a\nb\n"))
	consume(t, s, 1) // the other is received and never acked
	if _, _, err := s.Recv(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("got %d %q (Retry-After %q), want 503 with Retry-After", r.status, r.body, r.header.Get("Retry-After"))
	}
}

func TestBackPressure(t *testing.T) {
	s, url, _, _ := start(t, Config{}, WithQueueSize(2))
	start := time.Now()
	r := post(t, url, "text/plain", []byte("a\nb\nc\n")) // nobody receives
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("got %d %q (Retry-After %q), want 503 with Retry-After", r.status, r.body, r.header.Get("Retry-After"))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("503 took %v", d)
	}
	// What was queued is still delivered (the client's retry duplicates it).
	if evs := consume(t, s, 2); string(evs[0].Raw) != "a" || string(evs[1].Raw) != "b" {
		t.Errorf("got %q, %q, want a, b", evs[0].Raw, evs[1].Raw)
	}
}

func TestShutdownWhileWaiting(t *testing.T) {
	s, url, stop, ran := start(t, Config{})
	ch := goPost(t, url, "text/plain", []byte("a\n"))
	_, ack, err := s.Recv(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	stop()
	r := <-ch
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("got %d %q, want 503 with Retry-After", r.status, r.body)
	}
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	ack() // too late, and harmless
	if _, _, err := s.Recv(t.Context()); !errors.Is(err, io.EOF) {
		t.Errorf("Recv after Run: got %v, want io.EOF", err)
	}
}

func TestRunErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, err := New(Config{Addr: ln.Addr().String()}, "web")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(t.Context()); err == nil {
		t.Error("Run on an address in use: got nil, want an error")
	}
	if err := s.Run(t.Context()); !errors.Is(err, sluice.ErrAlreadyRunning) {
		t.Errorf("second Run: got %v, want ErrAlreadyRunning", err)
	}
	if _, _, err := s.Recv(t.Context()); !errors.Is(err, io.EOF) {
		t.Errorf("Recv: got %v, want io.EOF", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" for valid
	}{
		{"defaults", DefaultConfig(), ""},
		{"bad format", Config{Format: "xml"}, "format"},
		{"bad path", Config{Path: "in"}, "path"},
		{"both auths", Config{BearerToken: "t", BasicAuth: &BasicAuth{Username: "u"}}, "not both"},
		{"negative timeout", Config{RequestTimeout: -time.Second}, "requestTimeout"},
		{"negative events", Config{MaxEvents: -1}, "maxEvents"},
		{"negative header timeout", Config{ReadHeaderTimeout: -time.Second}, "readHeaderTimeout: want more than 0, got -1s"},
		{"negative read timeout", Config{ReadTimeout: -time.Second}, "readTimeout: want more than 0, got -1s"},
		{"read timeout under header timeout", Config{ReadHeaderTimeout: 20 * time.Second, ReadTimeout: 10 * time.Second}, "readTimeout: want at least readHeaderTimeout (20s), got 10s"},
		{"negative idle timeout", Config{IdleTimeout: -time.Second}, "idleTimeout: want more than 0, got -1s"},
		{"negative concurrency", Config{MaxConcurrentRequests: -1}, "maxConcurrentRequests: want at least 1, got -1"},
		{"negative connections", Config{MaxConnections: -1}, "maxConnections: want at least 1, got -1"},
		{"negative header bytes", Config{MaxHeaderBytes: -1}, "maxHeaderBytes: want at least 1, got -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, "web")
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want an error about %q", err, tc.want)
			}
		})
	}
}
