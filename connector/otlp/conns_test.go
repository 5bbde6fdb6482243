package otlp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/status"

	"github.com/sluicehq/sluice/internal/syncbuf"
)

// serverClosed reports whether the server closed c within 30s.
func serverClosed(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, err := c.Read(make([]byte, 512)) // gRPC writes its SETTINGS first
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			return false
		}
		if err != nil {
			return true
		}
	}
}

// ackOne receives and acks one record in the background.
func ackOne(t *testing.T, s *Source) {
	go func() {
		if _, ack, err := s.Recv(t.Context()); err == nil {
			ack()
		}
	}()
}

func rawDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// The limits of both listeners as a client sees them; each counted, and a
// flood of them logged once.
func TestConnectionLimits(t *testing.T) {
	certFile, keyFile := selfSigned(t, t.TempDir())
	tlsOn := &TLSConfig{CertFile: certFile, KeyFile: keyFile}
	for _, tc := range []struct {
		name  string
		cfg   SourceConfig
		run   func(t *testing.T, s *Source, gaddr, haddr string)
		cause string // counted at least n times, with one WARN line
		n     int
	}{
		{"gRPC gzip bomb over maxRequestBytes", SourceConfig{MaxRequestBytes: 1 << 20},
			func(t *testing.T, s *Source, gaddr, _ string) {
				// 8 MiB that compress to about 8 KiB.
				req := plogotlp.NewExportRequestFromLogs(logsOf(strings.Repeat("x", 8<<20)))
				_, err := grpcClient(t, gaddr).Export(t.Context(), req, grpc.UseCompressor(gzip.Name))
				if status.Code(err) != codes.ResourceExhausted {
					t.Errorf("got %v, want RESOURCE_EXHAUSTED", err)
				}
			}, "grpc_resource_exhausted", 1},
		{"gRPC client that sends nothing", SourceConfig{ReadHeaderTimeout: 300 * time.Millisecond},
			func(t *testing.T, s *Source, gaddr, _ string) {
				began := time.Now()
				if !serverClosed(t, rawDial(t, gaddr)) {
					t.Fatal("a gRPC connection that sent nothing is open after 30s")
				}
				t.Logf("closed after %v", time.Since(began).Round(time.Millisecond))
			}, "", 0},
		{"gRPC connection idle for idleTimeout", SourceConfig{IdleTimeout: 500 * time.Millisecond},
			func(t *testing.T, s *Source, gaddr, _ string) {
				cc, err := grpc.NewClient(gaddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
				if err != nil {
					t.Fatal(err)
				}
				defer cc.Close()
				ackOne(t, s)
				if _, err := plogotlp.NewGRPCClient(cc).Export(t.Context(), plogotlp.NewExportRequestFromLogs(logsOf("a"))); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
				defer cancel()
				for st := cc.GetState(); st == connectivity.Ready; st = cc.GetState() {
					if !cc.WaitForStateChange(ctx, st) {
						t.Fatal("the idle gRPC connection is still open after 20s")
					}
				}
			}, "", 0},
		{"gRPC connections over maxConnections", SourceConfig{MaxConnections: 1},
			func(t *testing.T, s *Source, gaddr, _ string) {
				ackOne(t, s)
				if _, err := grpcClient(t, gaddr).Export(t.Context(), plogotlp.NewExportRequestFromLogs(logsOf("a"))); err != nil {
					t.Fatal(err)
				}
				for i := range 5 {
					_, err := grpcClient(t, gaddr).Export(t.Context(), plogotlp.NewExportRequestFromLogs(logsOf("b")))
					if status.Code(err) != codes.Unavailable {
						t.Errorf("client %d over maxConnections: %v, want UNAVAILABLE", i, err)
					}
				}
			}, "too_many_connections", 5},
		{"HTTP idle connections evicted over maxConnections", SourceConfig{MaxConnections: 2},
			func(t *testing.T, s *Source, _, haddr string) {
				first := rawDial(t, haddr)
				rawDial(t, haddr)
				waitFor(t, func() bool { return s.conns[1].Open() == 2 })
				ackOne(t, s)
				if r := postLogs(t, haddr, ctProto, protoBody(t, logsOf("a"))); r.status != 200 {
					t.Errorf("POST over two idle connections: %d %s, want 200", r.status, r.body)
				}
				if !serverClosed(t, first) {
					t.Error("the oldest idle connection is still open")
				}
			}, "evicted", 1},
		{"TLS handshakes that stall", SourceConfig{ReadHeaderTimeout: 300 * time.Millisecond, TLS: tlsOn},
			func(t *testing.T, s *Source, gaddr, haddr string) {
				for _, addr := range []string{gaddr, haddr} {
					for range 5 {
						c := rawDial(t, addr)
						fmt.Fprint(c, "\x16\x03\x01") // the start of a ClientHello, and no more
						if !serverClosed(t, c) {
							t.Fatalf("%s: a stalled TLS handshake is open after 30s", addr)
						}
					}
				}
			}, "tls_handshake", 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var count counts
			var logs syncbuf.Buffer
			tc.cfg.GRPCAddr, tc.cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
			s, err := NewSource(tc.cfg, "otel", WithCounters(&count), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
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
			g, h, err := s.Addrs(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			tc.run(t, s, g.String(), h.String())
			if tc.cause == "" {
				return
			}
			waitFor(t, func() bool { return count.get(tc.cause) >= tc.n })
			if n := strings.Count(logs.String(), "level=WARN"); tc.cause != "grpc_resource_exhausted" && n != 1 {
				t.Errorf("%d WARN lines, want 1 (rate-limited):\n%s", n, logs.String())
			}
		})
	}
}

// Bad limits fail NewSource naming the field.
func TestSourceConfigLimits(t *testing.T) {
	for _, tc := range []struct {
		cfg  SourceConfig
		want string
	}{
		{SourceConfig{MaxConnections: -1}, "maxConnections: want at least 1, got -1"},
		{SourceConfig{MaxHeaderBytes: -1}, "maxHeaderBytes: want at least 1, got -1"},
		{SourceConfig{MaxRequestBytes: -1}, "maxRequestBytes: want at least 1, got -1"},
		{SourceConfig{IdleTimeout: -time.Second}, "idleTimeout: want more than 0, got -1s"},
	} {
		tc.cfg.GRPCAddr = "127.0.0.1:0"
		if _, err := NewSource(tc.cfg, "otel"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}
