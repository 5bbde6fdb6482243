package syslog_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/syslog"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/sluicetest"
)

// start runs a source and returns it with its bound addresses.
func start(t testing.TB, c syslog.Config, opts ...syslog.Option) (*syslog.Source, []net.Addr) {
	t.Helper()
	s, err := syslog.New(c, "test", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s, run(t, s)
}

// run runs s until the test ends and returns its bound addresses.
func run(t testing.TB, s *syslog.Source) []net.Addr {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	actx, acancel := context.WithTimeout(ctx, 5*time.Second)
	defer acancel()
	addrs, err := s.Addrs(actx)
	if err != nil {
		t.Fatal(err)
	}
	return addrs
}

func recv(t *testing.T, s *syslog.Source) event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, ack, err := s.Recv(ctx)
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	ack()
	return m.Value
}

// sender is a test destination that writes each message as an
// octet-counted RFC 5424 frame (TCP) or a datagram (UDP).
type sender struct {
	mu   sync.Mutex
	conn net.Conn
	udp  bool
}

func (d *sender) Send(ctx context.Context, ack func(), msgs ...sluice.Message[event.Event]) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { _ = d.conn.SetWriteDeadline(time.Now()) })
	defer stop()
	for _, m := range msgs {
		line := "<14>1 2026-11-24T10:00:00Z host app - - - " + string(m.Value.Raw)
		frame := line
		if !d.udp {
			frame = fmt.Sprintf("%d %s", len(line), line)
		}
		if _, err := io.WriteString(d.conn, frame); err != nil {
			if ctx.Err() != nil {
				return errors.Join(ctx.Err(), err)
			}
			return err
		}
	}
	sluice.Ack(ack)
	return nil
}

func TestConformance(t *testing.T) {
	for _, network := range []string{"tcp", "udp"} {
		t.Run(network, func(t *testing.T) {
			sluicetest.Suite[event.Event]{
				Features: sluicetest.Features{Ordered: true, ConcurrentRecv: true, MaxPayload: 400},
				NewPair: func(t *testing.T, name string) (sluice.Source[event.Event], sluice.Destination[event.Event]) {
					ln, err := net.ListenPacket("udp", "127.0.0.1:0") // find a free port
					if err != nil {
						t.Fatal(err)
					}
					addr := ln.LocalAddr().String()
					ln.Close()
					if network == "tcp" {
						l, err := net.Listen("tcp", "127.0.0.1:0")
						if err != nil {
							t.Fatal(err)
						}
						addr = l.Addr().String()
						l.Close()
					}
					s, err := syslog.New(syslog.Config{Addr: addr, Network: network}, name)
					if err != nil {
						t.Fatal(err)
					}
					return s, &lazySender{s: s, network: network, t: t}
				},
				Wrap: func(p []byte) sluice.Message[event.Event] {
					return sluice.Message[event.Event]{Value: event.Event{Raw: p}}
				},
				Unwrap: func(m sluice.Message[event.Event]) []byte { return []byte(m.Value.Syslog.Message) },
			}.Run(t)
		})
	}
}

// lazySender dials once the source is listening (the suite runs the
// source's Run after NewPair).
type lazySender struct {
	once    sync.Once
	s       *syslog.Source
	network string
	t       *testing.T
	d       *sender
	err     error
}

func (l *lazySender) Send(ctx context.Context, ack func(), msgs ...sluice.Message[event.Event]) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.once.Do(func() {
		addrs, err := l.s.Addrs(ctx)
		if err != nil {
			l.err = err
			return
		}
		c, err := net.Dial(l.network, addrs[0].String())
		if err != nil {
			l.err = err
			return
		}
		l.t.Cleanup(func() { c.Close() })
		l.d = &sender{conn: c, udp: l.network == "udp"}
	})
	if l.err != nil {
		return l.err
	}
	return l.d.Send(ctx, ack, msgs...)
}

func TestUDPFormats(t *testing.T) {
	s, addrs := start(t, syslog.Config{Addr: "127.0.0.1:0", Network: "udp", Timezone: "UTC", ContentType: "syslog"})
	c, err := net.Dial("udp", addrs[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		name, msg string
		check     func(t *testing.T, ev event.Event)
	}{
		{"rfc5424", `<165>1 2026-11-24T10:00:00.5Z web1 nginx 42 ID47 [ex@1 a="b"] hello world`, func(t *testing.T, ev event.Event) {
			sy := ev.Syslog
			if !sy.Present || sy.Facility != 20 || sy.Severity != 5 || sy.Version != 1 || sy.Hostname != "web1" || sy.AppName != "nginx" ||
				sy.ProcID != "42" || sy.MsgID != "ID47" || sy.StructuredData != `[ex@1 a="b"]` || sy.Message != "hello world" {
				t.Errorf("parsed %+v", sy)
			}
			if !ev.Time.Equal(time.Date(2026, 11, 24, 10, 0, 0, 5e8, time.UTC)) {
				t.Errorf("time %v", ev.Time)
			}
		}},
		{"rfc3164", `<34>Nov  4 09:08:07 mymachine su[99]: 'su root' failed`, func(t *testing.T, ev event.Event) {
			sy := ev.Syslog
			if sy.Facility != 4 || sy.Severity != 2 || sy.Hostname != "mymachine" || sy.AppName != "su" || sy.ProcID != "99" || sy.Message != "'su root' failed" {
				t.Errorf("parsed %+v", sy)
			}
			if ev.Time.Month() != time.November || ev.Time.Day() != 4 || ev.Time.Hour() != 9 {
				t.Errorf("time %v", ev.Time)
			}
		}},
		{"unparseable passes with a flag", "<999>not syslog", func(t *testing.T, ev event.Event) {
			if !ev.Flags.Has(event.ParseError) || ev.Syslog.Present || string(ev.Raw) != "<999>not syslog" || ev.ReceivedAt.IsZero() {
				t.Errorf("event %+v", ev)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Write([]byte(tc.msg)); err != nil {
				t.Fatal(err)
			}
			ev := recv(t, s)
			if string(ev.Raw) != tc.msg || ev.Source != "test" || ev.SourceType != "syslog" || ev.ContentType != "syslog" || !strings.HasPrefix(ev.Host, "127.0.0.1:") {
				t.Errorf("event %q from %q (source %q, type %q, content %q)", ev.Raw, ev.Host, ev.Source, ev.SourceType, ev.ContentType)
			}
			tc.check(t, ev)
		})
	}
}

// UDP over IPv6 is read in batches too (recvmmsg through x/net's ipv6).
func TestUDPIPv6(t *testing.T) {
	if pc, err := net.ListenPacket("udp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	} else {
		pc.Close()
	}
	s, addrs := start(t, syslog.Config{Addr: "[::1]:0", Network: "udp"})
	c, err := net.Dial("udp", addrs[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 100 {
		fmt.Fprintf(c, "<13>1 - - - - - - datagram %d", i)
	}
	for i := range 100 {
		ev := recv(t, s)
		if want := fmt.Sprintf("datagram %d", i); ev.Syslog.Message != want || !strings.HasPrefix(ev.Host, "[::1]:") {
			t.Fatalf("got %q from %q, want %q from [::1]", ev.Syslog.Message, ev.Host, want)
		}
	}
}

func TestTCPFramingAndLimits(t *testing.T) {
	s, addrs := start(t, syslog.Config{Addr: "127.0.0.1:0", Network: "tcp", MaxMessageBytes: 480})
	c, err := net.Dial("tcp", addrs[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m1 := "<13>1 - - - - - - octet counted\nwith a newline inside"
	long := "<13>1 - - - - - - " + strings.Repeat("x", 600)
	fmt.Fprintf(c, "%d %s<13>Nov 24 10:00:00 h app: newline framed\n%s\n<13>1 - - - - - - after\n", len(m1), m1, long)
	for i, want := range []string{"octet counted\nwith a newline inside", "newline framed", strings.Repeat("x", 480-18), "after"} {
		ev := recv(t, s)
		if ev.Syslog.Message != want {
			t.Errorf("message %d = %.40q, want %.40q", i, ev.Syslog.Message, want)
		}
		if truncated := ev.Flags.Has(event.Truncated); truncated != (i == 2) {
			t.Errorf("message %d: truncated = %v", i, truncated)
		}
	}
}

// Format "none" passes lines as they came, unparsed and unflagged.
func TestFormatNone(t *testing.T) {
	s, addrs := start(t, syslog.Config{Addr: "127.0.0.1:0", Network: "tcp", Format: "none"})
	c, err := net.Dial("tcp", addrs[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lines := []string{"<13>1 - - - - - - would parse", "plain text, not syslog", `{"a": 1}`}
	fmt.Fprintf(c, "%s\n", strings.Join(lines, "\n"))
	for _, want := range lines {
		ev := recv(t, s)
		if string(ev.Raw) != want || ev.Syslog.Present || ev.Flags != 0 || !ev.Time.IsZero() || ev.ReceivedAt.IsZero() {
			t.Errorf("event %+v, want raw %q and nothing parsed", ev, want)
		}
	}
}

// RecvBatch builds each event in the caller's slice, which a processor
// reuses: whatever an earlier message left there (a handler's fields,
// attributes, another source's parts) must not show through.
func TestRecvBatchOverwritesReusedMessages(t *testing.T) {
	for _, format := range []string{"auto", "none"} {
		t.Run(format, func(t *testing.T) {
			s, addrs := start(t, syslog.Config{Addr: "127.0.0.1:0", Network: "tcp", Format: format})
			c, err := net.Dial("tcp", addrs[0].String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			line := "<13>1 2026-12-06T10:00:00Z h app - - - hello"
			fmt.Fprintf(c, "%s\n", line)
			stale := sluice.Message[event.Event]{
				Value: event.Event{Time: time.Unix(1, 0), Source: "old", Raw: []byte("old"), Flags: event.ParseError,
					File: event.File{Path: "/old", Offset: 7}, HTTP: &event.HTTP{}, Fields: []event.Field{{Name: "old", Value: "x"}},
					Syslog: event.Syslog{Present: true, Hostname: "old", Message: "old"}},
				Attributes: sluice.AttributesOf(sluice.Attr{Key: "old", Value: "x"}),
			}
			msgs := []sluice.Message[event.Event]{stale, stale}
			acks := make([]func(), len(msgs))
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			n, err := s.RecvBatch(ctx, msgs, acks)
			if err != nil || n != 1 {
				t.Fatalf("RecvBatch = %d, %v; want 1 event", n, err)
			}
			ev := msgs[0].Value
			if string(ev.Raw) != line || ev.Source != "test" || ev.SourceType != "syslog" || ev.ReceivedAt.IsZero() || ev.Flags != 0 {
				t.Errorf("event %+v, want %q from source test, unflagged", ev, line)
			}
			if ev.File != (event.File{}) || ev.HTTP != nil || ev.Fields != nil || msgs[0].Attributes.Len() != 0 {
				t.Errorf("stale parts left in the message: %+v", msgs[0])
			}
			if parsed := format == "auto"; ev.Syslog.Present != parsed || (ev.Syslog.Message == "hello") != parsed ||
				ev.Time.Equal(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)) != parsed {
				t.Errorf("format %s: syslog %+v, time %v", format, ev.Syslog, ev.Time)
			}
			if acks[0] == nil {
				t.Error("nil ack")
			}
			if !reflect.DeepEqual(msgs[1], stale) {
				t.Error("RecvBatch wrote past the events it returned")
			}
		})
	}
}

func TestUnixSockets(t *testing.T) {
	dir := t.TempDir()
	for _, network := range []string{"unix", "unixgram"} {
		t.Run(network, func(t *testing.T) {
			path := filepath.Join(dir, network+".sock")
			s, _ := start(t, syslog.Config{Addr: path, Network: network})
			c, err := net.Dial(network, path)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			msg := "<13>1 - - - - - - over " + network
			if network == "unix" {
				msg += "\n"
			}
			if _, err := c.Write([]byte(msg)); err != nil {
				t.Fatal(err)
			}
			if ev := recv(t, s); ev.Syslog.Message != "over "+network {
				t.Errorf("got %q", ev.Syslog.Message)
			}
		})
	}
}

// counts records the source's counts: errors by cause, and drops as
// "dropped:" + cause.
type counts struct {
	mu     sync.Mutex
	errors map[string]int
}

func (c *counts) ParseFailed(int) {}
func (c *counts) Dropped(cause string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errors["dropped:"+cause] += n
}
func (c *counts) Error(cause string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errors[cause]++
}
func (c *counts) get(cause string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errors[cause]
}

// A new connection over maxConnections evicts the one waiting for data,
// and only it: counted, and the newcomer's lines arrive.
func TestConnectionLimit(t *testing.T) {
	cs := &counts{errors: map[string]int{}}
	// An idle timeout far longer than the test, so that the first
	// connection is evicted, not idled out, however slow the machine.
	s, addrs := start(t, syslog.Config{Addr: "127.0.0.1:0", Network: "tcp", MaxConnections: 1, IdleTimeout: time.Hour}, syslog.WithCounters(cs))
	c1, err := net.Dial("tcp", addrs[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	fmt.Fprint(c1, "<13>1 - - - - - - first\n")
	recv(t, s)
	// The first connection's handler queues "first" just before its next
	// read; until that read has begun it is busy, not idle, and a new
	// connection is refused rather than evicting it. Dial again until the
	// new connection is taken (a loaded machine may need a few tries).
	var c2 net.Conn
	refused := 0
	for deadline := time.Now().Add(30 * time.Second); ; {
		if time.Now().After(deadline) {
			t.Fatalf("the second connection was refused %d times in 30s: the first never waited in a read", refused)
		}
		c, err := net.Dial("tcp", addrs[0].String())
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return cs.get("evicted")+cs.get("too_many_connections") == refused+1 })
		if cs.get("evicted") == 1 {
			c2 = c
			break
		}
		c.Close()
		refused++
		t.Logf("second connection refused (%d): the first was between reads", refused)
	}
	defer c2.Close()
	fmt.Fprint(c2, "<13>1 - - - - - - second\n")
	if ev := recv(t, s); ev.Syslog.Message != "second" {
		t.Errorf("got %q from the new connection, want \"second\"", ev.Syslog.Message)
	}
	_ = c1.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := c1.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("idle connection over maxConnections 1: read = %v, want EOF from the server's close", err)
	}
	if n := cs.get("evicted"); n != 1 {
		t.Errorf("evictions counted: %d, want 1", n)
	}
	if n := cs.get("too_many_connections"); n != refused {
		t.Errorf("%d connections refused, want %d: an idle one makes room", n, refused)
	}
	if n := cs.get("idle_timeout"); n != 0 {
		t.Errorf("idle timeouts counted: %d, want 0", n)
	}
}

// A connection that sends nothing for idleTimeout is closed by the
// server, counted.
func TestIdleTimeout(t *testing.T) {
	cs := &counts{errors: map[string]int{}}
	s, addrs := start(t, syslog.Config{Addr: "127.0.0.1:0", Network: "tcp", IdleTimeout: 300 * time.Millisecond}, syslog.WithCounters(cs))
	c, err := net.Dial("tcp", addrs[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "<13>1 - - - - - - first\n")
	recv(t, s)
	// The server counts the timeout before it closes the connection.
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("idle connection: read = %v, want EOF from the server's close", err)
	}
	if n := cs.get("idle_timeout"); n != 1 {
		t.Errorf("idle timeouts counted: %d, want 1", n)
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	s, addrs := start(t, syslog.Config{Addr: "127.0.0.1:0", Network: "tcp", TLS: &syslog.TLSConfig{CertFile: cert, KeyFile: key}})
	pool := x509.NewCertPool()
	pemBytes, _ := os.ReadFile(cert)
	pool.AppendCertsFromPEM(pemBytes)
	c, err := tls.Dial("tcp", addrs[0].String(), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := "<13>1 - - - - - - over tls!!"
	fmt.Fprintf(c, "%d %s", len(msg), msg)
	if ev := recv(t, s); ev.Syslog.Message != "over tls!!" {
		t.Errorf("got %q", ev.Syslog.Message)
	}
}

// With clientCAFile, a client must present a certificate signed by that CA.
func TestTLSClientCA(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir) // its own CA: it signs the client's certificate too
	s, addrs := start(t, syslog.Config{Addr: "127.0.0.1:0", Network: "tcp",
		TLS: &syslog.TLSConfig{CertFile: cert, KeyFile: key, ClientCAFile: cert}})
	pool := x509.NewCertPool()
	pemBytes, _ := os.ReadFile(cert)
	pool.AppendCertsFromPEM(pemBytes)
	msg := "<13>1 - - - - - - with a client certificate"

	// Without a certificate the handshake fails and nothing arrives.
	c, err := tls.Dial("tcp", addrs[0].String(), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err == nil {
		_, _ = fmt.Fprintf(c, "%d %s", len(msg), "<13>1 - - - - - - without one!!!!!!!!!!!")
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1)) // TLS 1.3 reports the rejection here
		c.Close()
	}
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a client without a certificate was not refused: %v", err)
	}

	clientCert, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err = tls.Dial("tcp", addrs[0].String(), &tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{clientCert}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "%d %s", len(msg), msg)
	if ev := recv(t, s); ev.Syslog.Message != "with a client certificate" {
		t.Errorf("got %q; the refused client's message must never arrive", ev.Syslog.Message)
	}
}

func TestAddressInUseFailsRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, _ := syslog.New(syslog.Config{Addr: ln.Addr().String(), Network: "tcp"}, "x")
	err = s.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "syslog: addr: listen tcp "+ln.Addr().String()) || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("Run = %v, want a listen error", err)
	}
	if _, _, err := s.Recv(t.Context()); !errors.Is(err, io.EOF) {
		t.Errorf("Recv after a failed Run = %v, want io.EOF", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		c    syslog.Config
		want string
	}{
		{syslog.Config{Network: "sctp"}, `network: want udp, tcp, udp+tcp, unix or unixgram, got "sctp"`},
		{syslog.Config{Format: "cef"}, `format: want auto, rfc5424, rfc3164 or none, got "cef"`},
		{syslog.Config{Timezone: "Mars/Olympus"}, "timezone: unknown time zone Mars/Olympus"},
		{syslog.Config{MaxMessageBytes: 100}, "maxMessageBytes: want at least 480 (RFC 5424), got 100"},
		{syslog.Config{MaxConnections: -1}, "maxConnections: want at least 1, got -1"},
		{syslog.Config{IdleTimeout: -time.Second}, "idleTimeout: want 0 or more, got -1s"},
		{syslog.Config{ReadBufferBytes: -1}, "readBufferBytes: want 0 or more, got -1"},
		{syslog.Config{Network: "udp", TLS: &syslog.TLSConfig{CertFile: "c", KeyFile: "k"}}, `tls: needs network tcp or udp+tcp, got "udp"`},
	} {
		if _, err := syslog.New(tc.c, "x"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want %q", tc.c, err, tc.want)
		}
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}
