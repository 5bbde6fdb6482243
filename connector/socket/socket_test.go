package socket_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/socket"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/memory"
	"github.com/sluicehq/sluice/sluicetest"
)

// testBatch cuts small batches, so that a test sends several.
var testBatch = batch.Config{Count: 16, Age: 5 * time.Millisecond, Parallelism: 1, Eager: true,
	StopTimeout: time.Second, Retry: fastRetry}

// sendAll sends msgs from one goroutine, in Sends of 1 to 7 messages, and
// waits until every Send is acked. An ack called twice panics the
// WaitGroup.
func sendAll(t *testing.T, d sluice.Destination[event.Event], msgs []sluice.Message[event.Event]) {
	t.Helper()
	var wg sync.WaitGroup
	for i := 0; i < len(msgs); {
		n := min(1+i%7, len(msgs)-i)
		wg.Add(1)
		if err := d.Send(t.Context(), wg.Done, msgs[i:i+n]...); err != nil {
			t.Fatalf("Send: %v", err)
		}
		i += n
	}
	acked := make(chan struct{})
	go func() { wg.Wait(); close(acked) }()
	select {
	case <-acked:
	case <-time.After(10 * time.Second):
		t.Fatal("Sends not acked within 10s")
	}
}

// TestFrames sends events with each framing and format to a receiver that
// reads them with the syslog source's framing reader, and checks that
// every event arrives once, whole and in order.
func TestFrames(t *testing.T) {
	base := []string{
		"<13>1 2026-11-24T23:00:00Z host app 42 - - RFC 5424",
		"<14>Nov 24 23:00:00 host app: RFC 3164",
		"ünïcödé ✓ and a trailing space ",
		"x",
		`{"already": "json"}`,
	}
	for _, tc := range []struct {
		framing, format string
		extra           []string // events only this framing carries whole
	}{
		{"lf", "raw", nil},
		{"octet", "raw", []string{"12 looks like a count", "two\nlines", "nul\x00inside", "crlf\r\n"}},
		{"lf", "json", []string{"two\nlines"}}, // JSON escapes the newline
		{"octet", "json", []string{"12 looks like a count", "two\nlines"}},
	} {
		t.Run(tc.framing+"/"+tc.format, func(t *testing.T) {
			r := listen(t, "127.0.0.1:0", nil)
			var fails causes
			d, err := socket.New(socket.Config{Addr: r.addr(), Framing: tc.framing, Format: tc.format, Batch: testBatch},
				socket.WithHooks(socket.Hooks{Failed: fails.add}))
			if err != nil {
				t.Fatal(err)
			}
			stop := run(t, d)
			var want []string
			for i := range 300 {
				want = append(want, fmt.Sprintf("<13>1 - host app - - - event %d", i))
				if i%50 == 0 {
					want = append(want, base...)
					want = append(want, tc.extra...)
				}
			}
			msgs := make([]sluice.Message[event.Event], len(want))
			for i, s := range want {
				msgs[i] = ev(s)
			}
			sendAll(t, d, msgs)
			frames := r.waitFrames(t, len(want))
			if tc.format == "json" {
				for i, f := range frames {
					var e struct {
						Raw        string `json:"raw"`
						SourceType string `json:"sourceType"`
					}
					if err := json.Unmarshal([]byte(f), &e); err != nil || e.SourceType != "test" {
						t.Fatalf("frame %d: %q is not an event's JSON: %v", i, f, err)
					}
					frames[i] = e.Raw
				}
			}
			if !slices.Equal(frames, want) {
				t.Errorf("got %d frames, want %d; first difference:", len(frames), len(want))
				for i := range min(len(frames), len(want)) {
					if frames[i] != want[i] {
						t.Errorf("frame %d: got %q, want %q", i, frames[i], want[i])
						break
					}
				}
			}
			if err := stop(); err != nil {
				t.Errorf("Run: %v", err)
			}
			r.check(t)
			if _, conns := r.got(); conns != 1 {
				t.Errorf("%d connections, want 1", conns)
			}
			if n := fails.get("newline"); n != 0 {
				t.Errorf("%d newline events counted, want 0", n)
			}
		})
	}
}

// TestNewlinesAndEmptyEvents: with lf framing, an event holding a newline
// is written as it is (two frames at the receiver) and counted; with octet
// framing it is one frame. An empty event is not sent at all.
// TestJSONRaw: with jsonRaw "unparsed", a parsed event's JSON leaves its
// raw bytes out and an unparsed one keeps them.
func TestJSONRaw(t *testing.T) {
	parsed := ev("<13>1 - h a - - - hello")
	parsed.Value.Syslog = event.Syslog{Present: true, Facility: 1, Severity: 5, Version: 1, Hostname: "h", AppName: "a", Message: "hello"}
	failed := ev("<13>garbage")
	failed.Value.Flags = event.ParseError
	for _, tc := range []struct {
		jsonRaw string
		want    []bool // whether each frame has "raw"
	}{
		{"", []bool{true, true}},
		{"unparsed", []bool{false, true}},
	} {
		t.Run("jsonRaw="+tc.jsonRaw, func(t *testing.T) {
			r := listen(t, "127.0.0.1:0", nil)
			d, err := socket.New(socket.Config{Addr: r.addr(), Format: "json", JSONRaw: tc.jsonRaw, Batch: testBatch})
			if err != nil {
				t.Fatal(err)
			}
			stop := run(t, d)
			sendAll(t, d, []sluice.Message[event.Event]{parsed, failed})
			frames := r.waitFrames(t, 2)
			for i, f := range frames {
				if has := strings.Contains(f, `"raw":`); has != tc.want[i] {
					t.Errorf("frame %d has raw = %v, want %v: %s", i, has, tc.want[i], f)
				}
			}
			if !strings.Contains(frames[0], `"message":"hello"`) {
				t.Errorf("the parsed event lost its message: %s", frames[0])
			}
			if err := stop(); err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
}

func TestNewlinesAndEmptyEvents(t *testing.T) {
	for _, tc := range []struct {
		framing  string
		want     []string
		newlines int
	}{
		{"lf", []string{"a", "b", "c", "d"}, 1},
		{"octet", []string{"a", "b\nc", "d"}, 0},
	} {
		t.Run(tc.framing, func(t *testing.T) {
			r := listen(t, "127.0.0.1:0", nil)
			var fails causes
			d, err := socket.New(socket.Config{Addr: r.addr(), Framing: tc.framing, Batch: testBatch},
				socket.WithHooks(socket.Hooks{Failed: fails.add}))
			if err != nil {
				t.Fatal(err)
			}
			stop := run(t, d)
			sendAll(t, d, []sluice.Message[event.Event]{ev("a"), ev(""), ev("b\nc"), ev("d")})
			// The empty event is not sent: "d" comes right after "b\nc".
			if got := r.waitFrames(t, len(tc.want)); !slices.Equal(got, tc.want) {
				t.Errorf("got frames %q, want %q", got, tc.want)
			}
			if err := stop(); err != nil {
				t.Errorf("Run: %v", err)
			}
			r.check(t)
			if n := fails.get("newline"); n != tc.newlines {
				t.Errorf("%d newline events counted, want %d", n, tc.newlines)
			}
		})
	}
}

// TestConformance runs the sluicetest suite; what the receiver reads goes
// to a memory queue, the Source of the pair.
func TestConformance(t *testing.T) {
	for _, framing := range []string{"lf", "octet"} {
		t.Run(framing, func(t *testing.T) {
			sluicetest.Suite[event.Event]{
				Features: sluicetest.Features{Ordered: true, ConcurrentSend: true, ConcurrentRecv: true},
				NewPair: func(t *testing.T, name string) (sluice.Source[event.Event], sluice.Destination[event.Event]) {
					q := memory.New[event.Event](4096)
					// A subtest that fills the queue (send-cancel) leaves the
					// receiver blocked in q.Send: closing the queue, before
					// the receiver stops (cleanups run last first), ends it.
					r := listen(t, "127.0.0.1:0", nil, func(r *receiver) {
						r.onFrame = func(s string) {
							if err := q.Send(context.Background(), nil, ev(s)); err != nil && !errors.Is(err, sluice.ErrClosed) {
								t.Errorf("%s: queue: %v", name, err)
							}
						}
					})
					t.Cleanup(q.Close)
					d, err := socket.New(socket.Config{Addr: r.addr(), Framing: framing, Batch: testBatch})
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

// freeAddr returns an address on which nothing listens (for now).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestReceiverDownAtStart: while nothing listens, the batch is retried
// and not acked; once the receiver is up, it is delivered and acked.
func TestReceiverDownAtStart(t *testing.T) {
	addr := freeAddr(t)
	var fails causes
	d, err := socket.New(socket.Config{Addr: addr, Batch: testBatch}, socket.WithHooks(socket.Hooks{Failed: fails.add}))
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	acked := make(chan struct{})
	if err := d.Send(t.Context(), func() { close(acked) }, ev("one"), ev("two")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return fails.get("dial") >= 3 })
	select {
	case <-acked:
		t.Fatal("acked while nothing listens")
	default:
	}
	r := listen(t, addr, nil)
	select {
	case <-acked:
	case <-time.After(10 * time.Second):
		t.Fatal("not acked within 10s of the receiver coming up")
	}
	if got := r.waitFrames(t, 2); !slices.Equal(got, []string{"one", "two"}) {
		t.Errorf("got %q, want one, two", got)
	}
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestPeerClosesIdleConnection: a receiver that closes (or resets) the
// connection between batches is noticed before the next batch, which
// goes on a new connection: nothing is lost, nothing repeated.
func TestPeerClosesIdleConnection(t *testing.T) {
	for _, tc := range []struct {
		name string
		rst  bool
	}{{"close", false}, {"reset", true}} {
		t.Run(tc.name, func(t *testing.T) {
			r := listen(t, "127.0.0.1:0", nil)
			var fails causes
			d, err := socket.New(socket.Config{Addr: r.addr(), Framing: "octet", Batch: testBatch},
				socket.WithHooks(socket.Hooks{Failed: fails.add}))
			if err != nil {
				t.Fatal(err)
			}
			stop := run(t, d)
			var want []sluice.Message[event.Event]
			var wantRaw []string
			for i := range 40 {
				want = append(want, ev(fmt.Sprint("event ", i)))
				wantRaw = append(wantRaw, fmt.Sprint("event ", i))
			}
			sendAll(t, d, want[:20])
			r.waitFrames(t, 20)
			r.closeConns(tc.rst)
			waitFor(t, 5*time.Second, func() bool { return socket.PeerClosedIdle(d) })
			sendAll(t, d, want[20:])
			got := r.waitFrames(t, 40)
			if !slices.Equal(got, wantRaw) {
				t.Errorf("got %q, want %q", got, wantRaw)
			}
			if _, conns := r.got(); conns != 2 {
				t.Errorf("%d connections, want 2", conns)
			}
			if n := fails.get("peer_closed"); n != 1 {
				t.Errorf("peer_closed counted %d times, want 1", n)
			}
			if err := stop(); err != nil {
				t.Errorf("Run: %v", err)
			}
			r.check(t)
		})
	}
}

// TestPeerClosesMidWrite: the receiver resets the connection while a
// batch larger than the socket buffers is being written. The write fails,
// the batch is written again, whole, on a new connection, and acked once:
// every event arrives, its first ones twice.
func TestPeerClosesMidWrite(t *testing.T) {
	const events, readFirst = 32 << 10, 1000
	r := listen(t, "127.0.0.1:0", nil, func(r *receiver) {
		r.readBuffer = 64 << 10
		r.onConn = func(i int) int {
			if i == 0 {
				return readFirst // then close with data unread: a reset
			}
			return -1
		}
	})
	var fails causes
	bc := testBatch
	bc.Count, bc.Bytes = 1<<20, 1<<30 // one batch of 32 MiB
	d, err := socket.New(socket.Config{Addr: r.addr(), Framing: "octet", Batch: bc},
		socket.WithHooks(socket.Hooks{Failed: fails.add}))
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	pad := strings.Repeat("x", 1000)
	msgs := make([]sluice.Message[event.Event], events)
	want := make([]string, events)
	for i := range msgs {
		want[i] = fmt.Sprintf("%06d %s", i, pad)
		msgs[i] = ev(want[i])
	}
	acks := 0
	var mu sync.Mutex
	acked := make(chan struct{})
	if err := d.Send(t.Context(), func() {
		mu.Lock()
		defer mu.Unlock()
		if acks++; acks == 1 {
			close(acked)
		}
	}, msgs...); err != nil {
		t.Fatal(err)
	}
	select {
	case <-acked:
	case <-time.After(30 * time.Second):
		t.Fatal("not acked within 30s")
	}
	got := r.waitFrames(t, readFirst+events)
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	if acks != 1 {
		t.Errorf("acked %d times, want 1", acks)
	}
	if !slices.Equal(got[:readFirst], want[:readFirst]) {
		t.Errorf("the first connection got %.60q..., want the batch's first %d events", got[:readFirst], readFirst)
	}
	if !slices.Equal(got[readFirst:], want) {
		t.Errorf("the second connection got %d frames, want the whole batch again (%d)", len(got)-readFirst, events)
	}
	if fails.get("write") == 0 {
		t.Error("no write failure counted")
	}
	if _, conns := r.got(); conns != 2 {
		t.Errorf("%d connections, want 2", conns)
	}
}

// TestNoAckWhenCancelledBeforeWrite: a flush whose ctx is done writes
// nothing (it does not even connect) and returns ctx's error; Run stopped
// while the receiver is down gives up its batch without acking it.
func TestNoAckWhenCancelledBeforeWrite(t *testing.T) {
	t.Run("flush", func(t *testing.T) {
		r := listen(t, "127.0.0.1:0", nil)
		d, err := socket.New(socket.Config{Addr: r.addr(), Batch: testBatch})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { socket.CloseIdle(d) }) // no Run closes the connection
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := socket.Flush(ctx, d, ev("cancelled")); !errors.Is(err, context.Canceled) {
			t.Errorf("Flush with a cancelled ctx = %v, want context.Canceled", err)
		}
		if err := socket.Flush(t.Context(), d, ev("written")); err != nil {
			t.Fatal(err)
		}
		if got := r.waitFrames(t, 1); !slices.Equal(got, []string{"written"}) {
			t.Errorf("got %q, want only the second flush's event", got)
		}
		if _, conns := r.got(); conns != 1 {
			t.Errorf("%d connections, want 1", conns)
		}
	})
	t.Run("stop", func(t *testing.T) {
		var fails causes
		bc := testBatch
		bc.StopTimeout = 50 * time.Millisecond
		d, err := socket.New(socket.Config{Addr: freeAddr(t), Batch: bc}, socket.WithHooks(socket.Hooks{Failed: fails.add}))
		if err != nil {
			t.Fatal(err)
		}
		stop := run(t, d)
		var acked atomic.Bool
		if err := d.Send(t.Context(), func() { acked.Store(true) }, ev("never")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, func() bool { return fails.get("dial") >= 1 })
		if err := stop(); !errors.Is(err, sluice.ErrUndelivered) || !strings.Contains(err.Error(), "1 messages not flushed") {
			t.Errorf("Run = %v, want ErrUndelivered for 1 message", err)
		}
		if acked.Load() {
			t.Error("acked a batch that was never written")
		}
	})
}

// TestTLS connects to a receiver with a self-signed certificate.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	server, caFile := selfSigned(t, dir)
	for _, tc := range []struct {
		name string
		tls  socket.TLSConfig
		ok   bool
	}{
		{"caFile", socket.TLSConfig{CAFile: caFile}, true},
		{"serverName", socket.TLSConfig{CAFile: caFile, ServerName: "receiver.test"}, true},
		{"insecureSkipVerify", socket.TLSConfig{InsecureSkipVerify: true}, true},
		{"wrong serverName", socket.TLSConfig{CAFile: caFile, ServerName: "other.test"}, false},
		{"system roots", socket.TLSConfig{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := listen(t, "127.0.0.1:0", server)
			var fails causes
			bc := testBatch
			bc.StopTimeout = 50 * time.Millisecond
			tlsc := tc.tls
			d, err := socket.New(socket.Config{Addr: r.addr(), Framing: "octet", TLS: &tlsc, Batch: bc},
				socket.WithHooks(socket.Hooks{Failed: fails.add}))
			if err != nil {
				t.Fatal(err)
			}
			stop := run(t, d)
			acked := make(chan struct{})
			if err := d.Send(t.Context(), func() { close(acked) }, ev("secret\nover TLS"), ev("two")); err != nil {
				t.Fatal(err)
			}
			if tc.ok {
				select {
				case <-acked:
				case <-time.After(10 * time.Second):
					t.Fatal("not acked within 10s")
				}
				if got := r.waitFrames(t, 2); !slices.Equal(got, []string{"secret\nover TLS", "two"}) {
					t.Errorf("got %q", got)
				}
			} else {
				// Two refused handshakes, with the retry's back-off between
				// them: over 5s at load 40, so a deadline that only bounds
				// a failure.
				waitFor(t, 60*time.Second, func() bool { return fails.get("dial") >= 2 })
			}
			if err := stop(); tc.ok && err != nil || !tc.ok && !errors.Is(err, sluice.ErrUndelivered) {
				t.Errorf("Run: %v", err)
			}
			if !tc.ok {
				select {
				case <-acked:
					t.Error("acked without a verified connection")
				default:
				}
				if got, _ := r.got(); len(got) != 0 {
					t.Errorf("the receiver got %q", got)
				}
			}
		})
	}
}

func TestMissingTLSFileFailsRun(t *testing.T) {
	d, err := socket.New(socket.Config{Addr: "h:6514", TLS: &socket.TLSConfig{CAFile: "/nonexistent/ca.pem"}})
	if err != nil {
		t.Fatalf("New = %v; it must not read the TLS files", err)
	}
	if err := d.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "socket: tls") {
		t.Errorf("Run = %v, want a tls error", err)
	}
}

func TestRunTwice(t *testing.T) {
	r := listen(t, "127.0.0.1:0", nil)
	d, err := socket.New(socket.Config{Addr: r.addr(), Batch: testBatch})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	sendAll(t, d, []sluice.Message[event.Event]{ev("x")}) // Run is running
	if err := d.Run(t.Context()); !errors.Is(err, sluice.ErrAlreadyRunning) {
		t.Errorf("second Run = %v, want ErrAlreadyRunning", err)
	}
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestHooks checks what Written reports.
func TestHooks(t *testing.T) {
	r := listen(t, "127.0.0.1:0", nil)
	var mu sync.Mutex
	var events, bytes int
	d, err := socket.New(socket.Config{Addr: r.addr(), Framing: "octet", Batch: testBatch},
		socket.WithHooks(socket.Hooks{Written: func(n, b int, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			events += n
			bytes += b
		}}))
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	sendAll(t, d, []sluice.Message[event.Event]{ev("abc"), ev("de")})
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if events != 2 || bytes != len("3 abc2 de") {
		t.Errorf("Written reported %d events, %d bytes; want 2, %d", events, bytes, len("3 abc2 de"))
	}
}

// TestMissingTLSFileCountsHeld: the events sent before a TLS file fails
// to load are not acked, and Run's error counts them.
func TestMissingTLSFileCountsHeld(t *testing.T) {
	d, err := socket.New(socket.Config{Addr: "h:6514", TLS: &socket.TLSConfig{CAFile: "/nonexistent/ca.pem"}})
	if err != nil {
		t.Fatal(err)
	}
	var acked atomic.Bool
	if err := d.Send(t.Context(), func() { acked.Store(true) }, ev("a"), ev("b"), ev("c"), ev("d")); err != nil {
		t.Fatal(err)
	}
	err = d.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "socket: tls") || !strings.Contains(err.Error(), "4 messages not delivered") {
		t.Errorf("Run = %v, want a tls error counting 4 events", err)
	}
	if acked.Load() {
		t.Error("acked events that were never written")
	}
}
