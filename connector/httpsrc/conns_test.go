package httpsrc

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// closedByServer reports whether the server closed c within 30s.
func closedByServer(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

// The limits on connections, as a client sees them: refused or evicted
// past maxConnections, 431 past maxHeaderBytes, a TLS handshake that
// never finishes closed at readHeaderTimeout. Each is counted, and a
// flood of them writes one log line.
func TestConnectionLimits(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t, t.TempDir())
	for _, tc := range []struct {
		name  string
		cfg   Config
		run   func(t *testing.T, s *Source, url string)
		cause string // counted once per event
		n     int    // how many times
	}{
		{"idle connections evicted past maxConnections", Config{MaxConnections: 2},
			func(t *testing.T, s *Source, url string) {
				first := dial(t, url)
				dial(t, url)
				waitFor(t, func() bool { return s.conns.Open() == 2 })
				ch := goPost(t, url, "text/plain", []byte("a\n"))
				consume(t, s, 1)
				if r := <-ch; r.status != http.StatusOK {
					t.Errorf("POST over two idle connections: %d %q, want 200", r.status, r.body)
				}
				if !closedByServer(t, first) {
					t.Error("the oldest idle connection is still open")
				}
			}, "evicted", 1},
		{"busy connections: new ones refused past maxConnections", Config{MaxConnections: 2},
			func(t *testing.T, s *Source, url string) {
				hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
				held := []<-chan reply{goPost(t, url, "text/plain", []byte("a\n")), goPost(t, url, "text/plain", []byte("b\n"))}
				var acks []func()
				for range 2 {
					_, ack, err := s.Recv(t.Context())
					if err != nil {
						t.Fatal(err)
					}
					acks = append(acks, ack)
				}
				for i := range 20 {
					resp, err := hc.Post(url, "text/plain", strings.NewReader("refused\n"))
					if err == nil {
						resp.Body.Close()
						t.Fatalf("POST %d over maxConnections: got %d, want the connection closed", i, resp.StatusCode)
					}
				}
				for _, ack := range acks {
					ack()
				}
				for _, ch := range held {
					if r := <-ch; r.status != http.StatusOK {
						t.Errorf("held request: %d %q, want 200", r.status, r.body)
					}
				}
			}, "too_many_connections", 20},
		{"headers over maxHeaderBytes", Config{MaxHeaderBytes: 1 << 10},
			func(t *testing.T, s *Source, url string) {
				r := post(t, url, "text/plain", []byte("a\n"), "X-Big", strings.Repeat("h", 8<<10))
				if r.status != http.StatusRequestHeaderFieldsTooLarge {
					t.Errorf("8 KiB of headers: %d, want 431", r.status)
				}
			}, "", 0},
		{"TLS handshake never finished", Config{ReadHeaderTimeout: 300 * time.Millisecond, TLS: &TLSConfig{CertFile: certFile, KeyFile: keyFile}},
			func(t *testing.T, s *Source, url string) {
				for range 10 {
					c := dial(t, url)
					fmt.Fprint(c, "\x16\x03\x01") // the start of a ClientHello, and no more
					if !closedByServer(t, c) {
						t.Fatal("a stalled TLS handshake is still open after 30s")
					}
				}
				// A real client still gets through.
				tc := &tls.Config{InsecureSkipVerify: true}
				hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
				ch := make(chan error, 1)
				go func() {
					resp, err := hc.Post("https"+strings.TrimPrefix(url, "http"), "text/plain", bytes.NewReader([]byte("ok\n")))
					if err == nil {
						resp.Body.Close()
					}
					ch <- err
				}()
				consume(t, s, 1)
				if err := <-ch; err != nil {
					t.Error(err)
				}
			}, "tls_handshake", 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var count counts
			var logs logBuffer
			s, url, _, _ := start(t, tc.cfg, WithCounters(&count), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			tc.run(t, s, url)
			if tc.cause == "" {
				return
			}
			waitFor(t, func() bool { return count.get(tc.cause) >= tc.n })
			if n := count.get(tc.cause); n != tc.n {
				t.Errorf("%s counted %d times, want %d", tc.cause, n, tc.n)
			}
			if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
				t.Errorf("%d WARN lines, want 1 (rate-limited):\n%s", n, logs.String())
			}
		})
	}
}
