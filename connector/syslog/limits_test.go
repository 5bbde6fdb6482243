package syslog_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/syslog"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/syncbuf"
)

// serverClosed reports whether the server closed c within 30s.
func serverClosed(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

func dialT(t *testing.T, network, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Every limit as a sender sees it: what arrives, what is counted, and
// that a flood of refusals writes few log lines.
func TestLimits(t *testing.T) {
	certFile, keyFile := selfSigned(t, t.TempDir())
	tlsOn := &syslog.TLSConfig{CertFile: certFile, KeyFile: keyFile}
	long := "<13>1 - - - - - - " + strings.Repeat("x", 600)
	for _, tc := range []struct {
		name  string
		cfg   syslog.Config
		run   func(t *testing.T, s *syslog.Source, addr string)
		cause string // counted n times
		n     int
		warns int // WARN lines, at most
	}{
		{"newline-framed line over maxMessageBytes", syslog.Config{Network: "tcp", MaxMessageBytes: 480},
			func(t *testing.T, s *syslog.Source, addr string) {
				fmt.Fprintf(dialT(t, "tcp", addr), "%s\n<13>1 - - - - - - after\n", long)
				expect(t, s, "x", "after")
			}, "oversized", 1, 0},
		{"octet-counted frame over maxMessageBytes", syslog.Config{Network: "tcp", MaxMessageBytes: 480},
			func(t *testing.T, s *syslog.Source, addr string) {
				fmt.Fprintf(dialT(t, "tcp", addr), "%d %s<13>1 - - - - - - after\n", len(long), long)
				expect(t, s, "x", "after")
			}, "oversized", 1, 0},
		{"octet count over 64 MiB", syslog.Config{Network: "tcp"},
			func(t *testing.T, s *syslog.Source, addr string) {
				for range 5 {
					c := dialT(t, "tcp", addr)
					fmt.Fprint(c, "99999999 <13>1 - - - - - - x")
					if !serverClosed(t, c) {
						t.Fatal("a connection that lost its framing is open after 30s")
					}
				}
			}, "read", 5, 1},
		{"UDP datagram over maxMessageBytes", syslog.Config{Network: "udp", MaxMessageBytes: 480},
			func(t *testing.T, s *syslog.Source, addr string) {
				c := dialT(t, "udp", addr)
				fmt.Fprint(c, long)
				fmt.Fprint(c, "<13>1 - - - - - - after")
				expect(t, s, "x", "after")
			}, "oversized", 1, 0},
		{"TLS handshake that stalls", syslog.Config{Network: "tcp", TLS: tlsOn, IdleTimeout: time.Hour},
			func(t *testing.T, s *syslog.Source, addr string) {
				var cs []net.Conn
				for range 5 {
					c := dialT(t, "tcp", addr)
					fmt.Fprint(c, "\x16\x03\x01") // the start of a ClientHello, and no more
					cs = append(cs, c)
				}
				began := time.Now()
				for _, c := range cs {
					if !serverClosed(t, c) {
						t.Fatal("a stalled TLS handshake is open after 30s")
					}
				}
				t.Logf("closed after %v", time.Since(began).Round(time.Millisecond))
			}, "tls_handshake", 5, 1},
		{"plain client on a TLS port", syslog.Config{Network: "tcp", TLS: tlsOn},
			func(t *testing.T, s *syslog.Source, addr string) {
				for range 5 {
					c := dialT(t, "tcp", addr)
					fmt.Fprint(c, "<13>1 - - - - - - plain\n")
					if !serverClosed(t, c) {
						t.Fatal("a plain client on the TLS port is open after 30s")
					}
				}
			}, "tls_handshake", 5, 1},
		{"connection flood over maxConnections", syslog.Config{Network: "tcp", MaxConnections: 1, IdleTimeout: time.Hour},
			func(t *testing.T, s *syslog.Source, addr string) {
				for range 21 {
					dialT(t, "tcp", addr)
				}
			}, "evicted+too_many_connections", 20, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := &counts{errors: map[string]int{}}
			var logs syncbuf.Buffer
			tc.cfg.Addr = "127.0.0.1:0"
			s, addrs := start(t, tc.cfg, syslog.WithCounters(cs), syslog.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			tc.run(t, s, addrs[0].String())
			got := func() int {
				n := 0
				for _, c := range strings.Split(tc.cause, "+") {
					n += cs.get(c)
				}
				return n
			}
			waitFor(t, func() bool { return got() >= tc.n })
			if n := got(); n != tc.n {
				t.Errorf("%s counted %d times, want %d", tc.cause, n, tc.n)
			}
			if n := strings.Count(logs.String(), "level=WARN"); n > tc.warns {
				t.Errorf("%d WARN lines, want at most %d:\n%s", n, tc.warns, logs.String())
			}
		})
	}
}

// expect receives one event per want: "x" stands for a message of x's
// truncated and flagged, any other the message itself, unflagged.
func expect(t *testing.T, s *syslog.Source, want ...string) {
	t.Helper()
	for i, w := range want {
		ev := recv(t, s)
		truncated := ev.Flags.Has(event.Truncated)
		if w == "x" && (!truncated || strings.Trim(ev.Syslog.Message, "x") != "") || w != "x" && (truncated || ev.Syslog.Message != w) {
			t.Errorf("event %d: %.40q truncated=%v, want %q", i, ev.Syslog.Message, truncated, w)
		}
	}
}
