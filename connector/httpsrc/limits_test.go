package httpsrc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/fdlimit"
)

// rawClient is a client on its own TCP connection that writes a request
// byte by byte as the test says.
type rawClient struct {
	net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, url string) *rawClient {
	t.Helper()
	host := strings.TrimPrefix(url, "http://")
	host = host[:strings.IndexByte(host, '/')]
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{Conn: c, r: bufio.NewReaderSize(c, 64)}
}

// headers sends a POST's headers declaring a body of n bytes, and waits
// for the server's 100 Continue: its handler is reading the body.
func (c *rawClient) headers(t *testing.T, n int) {
	t.Helper()
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", n)
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("after the headers: got %v, %v; want 100 Continue", resp, err)
	}
}

// reply reads the server's answer: its status, or 0 if the server closed
// the connection without one.
func (c *rawClient) reply(t *testing.T) int {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(c.r, nil)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed):
		return 0
	case err != nil:
		t.Fatalf("read the reply: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// goMemory returns the Go heap and stacks in use, after a collection.
func goMemory() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// rss returns the process's resident memory, or 0 where /proc has none.
func rss() uint64 {
	b, _ := os.ReadFile("/proc/self/status")
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// 1,000 clients that declare a 10 MiB body and send it a byte a second,
// and 1,000 that connect and send nothing, take memory for what they sent,
// not for what they declared, and a normal POST still gets 200.
func TestSlowAndIdleClients(t *testing.T) {
	const slow, idle = 1000, 1000
	const declared = 10 << 20
	// Both ends of every connection are in this process.
	fdlimit.Need(t, 2*(slow+idle)+500)
	// Room for them all: here the point is memory (conns_test.go tests
	// maxConnections).
	s, url, _, _ := start(t, Config{MaxConnections: slow + idle + 10})
	memBefore, rssBefore := goMemory(), rss()

	clients := make([]*rawClient, 0, slow)
	for range idle {
		dial(t, url)
	}
	for range slow {
		c := dial(t, url)
		c.headers(t, declared)
		clients = append(clients, c)
	}
	for range 3 { // a byte a second
		for _, c := range clients {
			if _, err := c.Write([]byte("x")); err != nil {
				t.Fatalf("trickle: %v", err)
			}
		}
		time.Sleep(time.Second)
	}
	grown := goMemory() - memBefore
	t.Logf("%d slow and %d idle clients: Go heap and stacks grew by %d MiB, RSS by %d MiB",
		slow, idle, grown>>20, (rss()-rssBefore)>>20)
	// What the server holds for each is its connection, a goroutine and a
	// few KiB of buffers: about 30 KiB. 10 MiB each would be 10 GiB.
	const bound = 200 << 20
	if grown > bound {
		t.Errorf("memory grew by %d MiB with %d clients, want under %d MiB", grown>>20, slow+idle, bound>>20)
	}

	began := time.Now()
	ch := goPost(t, url, "text/plain", []byte("normal\n"))
	if evs := consume(t, s, 1); string(evs[0].Raw) != "normal" {
		t.Errorf("got %q", evs[0].Raw)
	}
	if r := <-ch; r.status != http.StatusOK {
		t.Errorf("normal POST among slow clients: got %d %q, want 200", r.status, r.body)
	}
	t.Logf("the normal POST was answered in %v", time.Since(began).Round(time.Millisecond))
}

// A request holds one of maxConcurrentRequests slots once 64 KiB of its
// body, or all of it, has arrived, until it is answered; beyond the limit
// a request gets 503 with Retry-After. Clients still trickling a small
// part of a body hold none.
func TestMaxConcurrentRequests(t *testing.T) {
	var count counts
	s, url, _, _ := start(t, Config{MaxConcurrentRequests: 2}, WithCounters(&count))
	busy := func(t *testing.T) {
		t.Helper()
		r := post(t, url, "text/plain", []byte("refused\n"))
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "maxConcurrentRequests") {
			t.Errorf("over the limit: got %d %q (Retry-After %q), want 503 with Retry-After", r.status, r.body, r.header.Get("Retry-After"))
		}
	}
	held := func(n int) func() bool { return func() bool { return len(s.slots) == n } }

	// Two requests wait for acks: a third is refused.
	p1, p2 := goPost(t, url, "text/plain", []byte("a\n")), goPost(t, url, "text/plain", []byte("b\n"))
	var acks []func()
	for range 2 {
		_, ack, err := s.Recv(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, ack)
	}
	busy(t)
	if n := count.get("http_503"); n != 1 {
		t.Errorf("503s counted: %d, want 1", n)
	}
	for _, ack := range acks {
		ack()
	}
	for _, ch := range []<-chan reply{p1, p2} {
		if r := <-ch; r.status != http.StatusOK {
			t.Errorf("got %d %q, want 200", r.status, r.body)
		}
	}
	waitFor(t, held(0))

	// Two clients trickle a body: they hold no slot.
	for range 2 {
		c := dial(t, url)
		c.headers(t, 1000)
		fmt.Fprint(c, "x")
	}
	ch := goPost(t, url, "text/plain", []byte("c\n"))
	consume(t, s, 1)
	if r := <-ch; r.status != http.StatusOK {
		t.Errorf("with two slow clients: got %d %q, want 200", r.status, r.body)
	}

	// Two clients past 64 KiB of a larger body hold both slots.
	var large []*rawClient
	for range 2 {
		c := dial(t, url)
		c.headers(t, 200<<10)
		if _, err := c.Write(bytes.Repeat([]byte("y"), slotAfter+1)); err != nil {
			t.Fatal(err)
		}
		large = append(large, c)
	}
	waitFor(t, held(2))
	busy(t)
	// One hangs up: its slot is free again.
	large[0].Close()
	waitFor(t, held(1))
	ch = goPost(t, url, "text/plain", []byte("d\n"))
	consume(t, s, 1)
	if r := <-ch; r.status != http.StatusOK {
		t.Errorf("after a slot was freed: got %d %q, want 200", r.status, r.body)
	}
}

// Slow and idle connections end at their timeouts.
func TestTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		send func(t *testing.T, s *Source, c *rawClient)
		want int // status, or 0 for a close without a reply
	}{
		{"headers not complete in readHeaderTimeout", Config{ReadHeaderTimeout: 200 * time.Millisecond},
			func(t *testing.T, _ *Source, c *rawClient) { fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: x\r\n") }, 0},
		{"body not complete in readTimeout", Config{ReadHeaderTimeout: 100 * time.Millisecond, ReadTimeout: 300 * time.Millisecond},
			func(t *testing.T, _ *Source, c *rawClient) { c.headers(t, 100); fmt.Fprint(c, "0123456789") }, http.StatusRequestTimeout},
		{"keep-alive idle for idleTimeout", Config{IdleTimeout: 200 * time.Millisecond},
			func(t *testing.T, s *Source, c *rawClient) {
				fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\na\n")
				consume(t, s, 1)
				if status := c.reply(t); status != http.StatusOK {
					t.Fatalf("got %d, want 200", status)
				}
			}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var count counts
			s, url, _, _ := start(t, tc.cfg, WithCounters(&count))
			c := dial(t, url)
			tc.send(t, s, c)
			if got := c.reply(t); got != tc.want {
				t.Errorf("got %d, want %d (0: closed without a reply)", got, tc.want)
			}
			if tc.want != 0 {
				if n := count.get("http_" + strconv.Itoa(tc.want)); n != 1 {
					t.Errorf("http_%d counted %d times, want 1", tc.want, n)
				}
			}
		})
	}
}

// logBuffer is a slog destination safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// A client that hangs up while its request waits for acks is logged as
// such, not as a shutdown, and its events stay in flight: they are
// received and acked as usual.
func TestClientHangUp(t *testing.T) {
	var count counts
	logs := &logBuffer{}
	s, url, _, _ := start(t, Config{}, WithCounters(&count),
		WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	ctx, hangUp := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader("a\nb\n"))
	req.Header.Set("Content-Type", "text/plain")
	done := make(chan error, 1)
	go func() {
		resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("got a reply: %s", resp.Status)
		}
		done <- err
	}()
	m, ackA, err := s.Recv(t.Context()) // the destination has "a", not acked yet
	if err != nil {
		t.Fatal(err)
	}
	hangUp()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("client: %v, want its own cancellation", err)
	}
	waitFor(t, func() bool { return strings.Contains(logs.String(), "client hung up") })
	if log := logs.String(); strings.Contains(log, "shutting down") || !strings.Contains(log, "events=2") {
		t.Errorf("log %q: want the hang-up of a request of 2 events, and no shutdown", log)
	}
	if n, n503 := count.get("client_hangup"), count.get("http_503"); n != 1 || n503 != 0 {
		t.Errorf("counted %d hang-ups and %d 503s, want 1 and 0", n, n503)
	}
	// Both events are still delivered, and acked.
	ackA()
	if evs := consume(t, s, 1); string(m.Value.Raw) != "a" || string(evs[0].Raw) != "b" {
		t.Errorf("got %q, %q after the hang-up, want a, b", m.Value.Raw, evs[0].Raw)
	}
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readTimeout bounds the arrival of a request, not its wait for acks: a
// request whose events are acked after readTimeout still gets 200.
func TestAckedAfterReadTimeout(t *testing.T) {
	const readTimeout = 200 * time.Millisecond
	s, url, _, _ := start(t, Config{ReadHeaderTimeout: readTimeout, ReadTimeout: readTimeout})
	ch := goPost(t, url, "text/plain", []byte("a\n"))
	_, ack, err := s.Recv(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * readTimeout) // the moment: readTimeout has passed while the request waits
	ack()
	if r := <-ch; r.status != http.StatusOK {
		t.Errorf("acked after readTimeout: got %d %q, want 200", r.status, r.body)
	}
}
