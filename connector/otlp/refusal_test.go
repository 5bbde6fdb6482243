package otlp

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// counts is a Counters that keeps the counts.
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

// runSource runs a Source with counters until the test ends and returns
// it with its HTTP address.
func runSource(t *testing.T, c SourceConfig, count *counts) (*Source, string, context.CancelFunc) {
	t.Helper()
	c.HTTPAddr = "127.0.0.1:0"
	s, err := NewSource(c, "otel", WithCounters(count))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	_, h, err := s.Addrs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return s, h.String(), cancel
}

// TestHTTPRefusalStatus: a client that sends too fast (the queue full)
// gets 429, a source that cannot take the records (shutting down) 503:
// both with Retry-After and a google.rpc.Status, and counted.
func TestHTTPRefusalStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  SourceConfig
		// hold makes the next request refused: it returns what the test
		// does once that request is sent.
		hold func(t *testing.T, s *Source, addr string, stop context.CancelFunc) func()
		want int
	}{
		{"queue full", SourceConfig{QueueSize: 1, AckTimeout: 10 * time.Second},
			func(t *testing.T, s *Source, addr string, _ context.CancelFunc) func() {
				// One record nobody receives fills the queue.
				body := protoBody(t, logsOf("first"))
				go func() { _, _ = post(addr, body) }()
				waitFor(t, func() bool { return s.q.Len() == 1 })
				return func() {}
			}, http.StatusTooManyRequests},
		{"shutting down", SourceConfig{AckTimeout: 10 * time.Second},
			func(t *testing.T, s *Source, _ string, stop context.CancelFunc) func() {
				return func() {
					// The request's record is received, not acked, when
					// the source stops.
					ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
					defer cancel()
					if _, _, err := s.Recv(ctx); err != nil {
						t.Error(err)
					}
					stop()
				}
			}, http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var count counts
			tc.cfg.RetryAfter = 3 * time.Second
			s, addr, stop := runSource(t, tc.cfg, &count)
			then := tc.hold(t, s, addr, stop)
			got := make(chan httpReply, 1)
			body := protoBody(t, logsOf("refused"))
			go func() { r, _ := post(addr, body); got <- r }()
			then()
			r := <-got
			var st spb.Status
			if r.status != tc.want || r.retryAfter != "3" || proto.Unmarshal(r.body, &st) != nil || st.Code != int32(codes.Unavailable) {
				t.Errorf("%d Retry-After %q body %q, want %d, Retry-After 3 and a Status", r.status, r.retryAfter, r.body, tc.want)
			}
			if n := count.get("http_" + strconv.Itoa(tc.want)); n != 1 {
				t.Errorf("http_%d counted %d times, want 1", tc.want, n)
			}
		})
	}
}

// post sends an OTLP/HTTP protobuf body, from any goroutine; a request
// that fails has status 0.
func post(addr string, body []byte) (httpReply, error) {
	resp, err := http.Post("http://"+addr+"/v1/logs", ctProto, bytes.NewReader(body))
	if err != nil {
		return httpReply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return httpReply{resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"), b}, err
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
	}
}

// TestSDKRetriesRefusals: three OTel SDK otlploghttp exporters send at
// once to a source that takes one request at a time, so they get 429s;
// the destination is down for the first request it is given (it takes the
// records and never writes them), so that request gets 503 after
// ackTimeout. The exporters retry each refusal, and every record is
// written exactly once.
func TestSDKRetriesRefusals(t *testing.T) {
	const exporters, n = 3, 600
	var count counts
	s, addr, _ := runSource(t, SourceConfig{MaxConcurrentRequests: 1, AckTimeout: 2 * time.Second, RetryAfter: time.Second}, &count)

	// The destination: the first request's records are lost to a
	// destination that is down (never acked: their request gets 503);
	// every later record is written (counted) and acked.
	written := map[string]int{}
	var mu sync.Mutex
	dropped := 0
	ctx, cancel := context.WithCancel(t.Context())
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		msgs, acks := make([]sluice.Message[event.Event], 64), make([]func(), 64)
		var first string // the peer of the first request; records of one request come together
		for {
			k, err := s.RecvBatch(ctx, msgs, acks)
			if err != nil {
				return
			}
			mu.Lock()
			for i := range k {
				raw := string(msgs[i].Value.Raw)
				body := raw[strings.Index(raw, `"body":"`)+8:]
				body = body[:strings.IndexByte(body, '"')]
				if first == "" {
					first = body[:strings.IndexByte(body, '-')]
				}
				if dropped < 100 && strings.HasPrefix(body, first+"-") && count.get("http_503") == 0 {
					dropped++ // down: never written, never acked
					continue
				}
				written[body]++
				acks[i]()
			}
			mu.Unlock()
		}
	}()

	var wg sync.WaitGroup
	for e := range exporters {
		wg.Go(func() {
			exp, err := otlploghttp.New(t.Context(), otlploghttp.WithEndpoint(addr), otlploghttp.WithInsecure(),
				otlploghttp.WithTimeout(30*time.Second),
				otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: true, InitialInterval: 50 * time.Millisecond,
					MaxInterval: time.Second, MaxElapsedTime: time.Minute}))
			if err != nil {
				t.Error(err)
				return
			}
			lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(exp,
				sdklog.WithMaxQueueSize(n), sdklog.WithExportMaxBatchSize(100))))
			logger := lp.Logger("test")
			for i := range n {
				var r otellog.Record
				r.SetBody(attribute.StringValue(fmt.Sprintf("e%d-%d", e, i)))
				logger.Emit(t.Context(), r)
			}
			if err := lp.Shutdown(t.Context()); err != nil {
				t.Errorf("exporter %d: shutdown: %v", e, err)
			}
		})
	}
	wg.Wait()
	cancel()
	<-consumed

	t.Logf("429s %d, 503s %d, records the down destination dropped %d", count.get("http_429"), count.get("http_503"), dropped)
	if count.get("http_429") == 0 || count.get("http_503") == 0 || dropped == 0 {
		t.Errorf("the moments were not made: %d 429s, %d 503s, %d records dropped; want each > 0",
			count.get("http_429"), count.get("http_503"), dropped)
	}
	mu.Lock()
	defer mu.Unlock()
	for e := range exporters {
		for i := range n {
			if c := written[fmt.Sprintf("e%d-%d", e, i)]; c != 1 {
				t.Errorf("e%d-%d written %d times, want 1", e, i, c)
			}
		}
	}
	if len(written) != exporters*n {
		t.Errorf("%d records written, want %d", len(written), exporters*n)
	}
}

// slowConn is a client on its own connection that writes a request as
// the test says and reads the answer.
type slowConn struct {
	net.Conn
	r *bufio.Reader
}

func dialSlow(t *testing.T, addr string) *slowConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &slowConn{c, bufio.NewReader(c)}
}

// startBody sends the headers of a POST with an n-byte protobuf body and
// waits for 100 Continue: the handler is reading the body.
func (c *slowConn) startBody(t *testing.T, n int) {
	t.Helper()
	fmt.Fprintf(c, "POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", n)
	if status := c.status(t); status != http.StatusContinue {
		t.Fatalf("after the headers: %d, want 100 Continue", status)
	}
}

// status reads the server's answer: its status, or 0 if it closed the
// connection without one.
func (c *slowConn) status(t *testing.T) int {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("no answer and no close in 30s")
		}
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestSlowHTTPClients: slow and idle HTTP clients end at the listener's
// timeouts, and clients still sending a body hold none of
// maxConcurrentRequests: a normal request among them is answered 200.
func TestSlowHTTPClients(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  SourceConfig
		send func(t *testing.T, s *Source, c *slowConn)
		want int // status, or 0 for a close without an answer
	}{
		{"headers not complete in readHeaderTimeout", SourceConfig{ReadHeaderTimeout: 200 * time.Millisecond},
			func(t *testing.T, _ *Source, c *slowConn) { fmt.Fprint(c, "POST /v1/logs HTTP/1.1\r\nHost: x\r\n") }, 0},
		{"body not complete in readTimeout", SourceConfig{ReadHeaderTimeout: 100 * time.Millisecond, ReadTimeout: 300 * time.Millisecond},
			func(t *testing.T, _ *Source, c *slowConn) { c.startBody(t, 100); fmt.Fprint(c, "0123456789") }, http.StatusRequestTimeout},
		{"keep-alive idle for idleTimeout", SourceConfig{IdleTimeout: 200 * time.Millisecond},
			func(t *testing.T, s *Source, c *slowConn) {
				b := protoBody(t, logsOf("kept"))
				fmt.Fprintf(c, "POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: %d\r\n\r\n%s", len(b), b)
				recvN(t, s, 1)
				if status := c.status(t); status != http.StatusOK {
					t.Fatalf("got %d, want 200", status)
				}
			}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var count counts
			s, addr, _ := runSource(t, tc.cfg, &count)
			c := dialSlow(t, addr)
			began := time.Now()
			tc.send(t, s, c)
			if got := c.status(t); got != tc.want {
				t.Errorf("got %d, want %d (0: closed without an answer)", got, tc.want)
			}
			t.Logf("ended after %v", time.Since(began).Round(time.Millisecond))
			if tc.want != 0 {
				if n := count.get("http_" + strconv.Itoa(tc.want)); n != 1 {
					t.Errorf("http_%d counted %d times, want 1", tc.want, n)
				}
			}
		})
	}

	t.Run("tricklers hold no slot", func(t *testing.T) {
		var count counts
		s, addr, _ := runSource(t, SourceConfig{MaxConcurrentRequests: 2, ReadHeaderTimeout: time.Second, ReadTimeout: 2 * time.Second}, &count)
		var slow []*slowConn
		for range 4 {
			c := dialSlow(t, addr)
			c.startBody(t, 1000)
			fmt.Fprint(c, "\x0a")
			slow = append(slow, c)
		}
		got := make(chan httpReply, 1)
		body := protoBody(t, logsOf("normal"))
		go func() { r, _ := post(addr, body); got <- r }()
		if ev := recvN(t, s, 1); !strings.Contains(string(ev[0].Raw), `"normal"`) {
			t.Errorf("got %s", ev[0].Raw)
		}
		if r := <-got; r.status != http.StatusOK {
			t.Errorf("a normal request among 4 slow clients: %d %q, want 200", r.status, r.body)
		}
		for _, c := range slow {
			if status := c.status(t); status != http.StatusRequestTimeout {
				t.Errorf("slow client: %d, want 408 at readTimeout", status)
			}
		}
		if n := count.get("http_429"); n != 0 {
			t.Errorf("%d requests refused for want of a slot, want 0", n)
		}
	})
}
