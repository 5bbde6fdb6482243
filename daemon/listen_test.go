package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/builtin"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/listentest"
)

// late is a source that listens, and binds only once release is closed.
// It receives nothing; Recv returns io.EOF once Run has returned.
type late struct {
	release chan struct{}
	started chan struct{} // closed when Run starts
	bound   chan struct{}
	ended   chan struct{} // closed when Run returns
}

func newLate() *late {
	return &late{release: make(chan struct{}), started: make(chan struct{}), bound: make(chan struct{}), ended: make(chan struct{})}
}

func (s *late) Recv(ctx context.Context) (sluice.Message[event.Event], func(), error) {
	select {
	case <-s.ended:
		return sluice.Message[event.Event]{}, nil, io.EOF
	case <-ctx.Done():
		return sluice.Message[event.Event]{}, nil, ctx.Err()
	}
}

func (s *late) Run(ctx context.Context) error {
	close(s.started)
	defer close(s.ended)
	select {
	case <-s.release:
		close(s.bound)
	case <-ctx.Done():
		return nil
	}
	<-ctx.Done()
	return nil
}

func (s *late) Bound() <-chan struct{} { return s.bound }

func (s *late) NotReady() string {
	select {
	case <-s.bound:
		return ""
	default:
		return "not listening yet"
	}
}

var (
	_ daemon.Binder     = (*late)(nil)
	_ daemon.NotReadier = (*late)(nil)
)

// lateRegistry is the built-in registry with a "late" source type that
// builds s.
func lateRegistry(s *late) *daemon.Registry {
	r := builtin.Registry()
	daemon.RegisterSource(r, "late", "a source that binds when the test says", func() *struct{} { return &struct{}{} },
		func(daemon.Env, *struct{}) (sluice.Source[event.Event], error) { return s, nil })
	return r
}

// atRunning is a log handler that calls check as the "running" record is
// logged, in the logging goroutine: what the record claims must hold at
// that instant.
type atRunning struct {
	slog.Handler
	check func()
}

func (h atRunning) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "running" {
		h.check()
	}
	return h.Handler.Handle(ctx, r)
}

func (h atRunning) WithAttrs(as []slog.Attr) slog.Handler {
	return atRunning{h.Handler.WithAttrs(as), h.check}
}

func (h atRunning) WithGroup(name string) slog.Handler {
	return atRunning{h.Handler.WithGroup(name), h.check}
}

func readyz(addr string) (int, string) {
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The daemon logs "running", and /readyz answers 200, only once every
// source that listens is bound: at the instant "running" is logged, the
// http, otlp (both listeners) and syslog TCP sources accept connections
// at the first try, and the late source, which binds only when the test
// lets it, is bound. Until it is, /readyz answers 503.
func TestRunningOnceListening(t *testing.T) {
	src := newLate()
	addrs := listentest.FreeAddrs(t, 5)
	admin, web, grpcAddr, otlpHTTP, sys := addrs[0], addrs[1], addrs[2], addrs[3], addrs[4]
	dir := t.TempDir()
	cfg := fmt.Appendf(nil, `{
		"dataDir": %q, "admin": {"addr": %q},
		"sources": {
			"late": {"type": "late"},
			"web": {"type": "http", "addr": %q},
			"otel": {"type": "otlp", "grpcAddr": %q, "httpAddr": %q},
			"sys": {"type": "syslog", "network": "tcp", "addr": %q},
		},
		"destinations": {"out": {"type": "file", "path": %q}},
	}`, dir, admin, web, grpcAddr, otlpHTTP, sys, filepath.Join(dir, "out.ndjson"))
	var mu sync.Mutex
	var atRun []string // what did not hold when "running" was logged
	logged := make(chan struct{})
	check := func() {
		mu.Lock()
		defer mu.Unlock()
		select {
		case <-src.bound:
		default:
			atRun = append(atRun, "source late not bound")
		}
		for _, a := range []string{web, grpcAddr, otlpHTTP, sys} {
			c, err := net.Dial("tcp", a)
			if err != nil {
				atRun = append(atRun, err.Error())
				continue
			}
			c.Close()
		}
		close(logged)
	}
	logs := &syncBuf{}
	d, err := daemon.New(cfg, lateRegistry(src), slog.New(atRunning{slog.NewTextHandler(logs, nil), check}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	}()
	<-src.started
	// The other sources bind at once; the late one is held: the daemon
	// must not say it runs meanwhile.
	for range 10 {
		if code, body := readyz(admin); code != http.StatusServiceUnavailable {
			t.Errorf("/readyz before the late source is bound: %d %q, want 503", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-logged:
		t.Error(`"running" logged before the late source was bound`)
	default:
	}
	close(src.release)
	select {
	case <-logged:
	case <-time.After(30 * time.Second):
		t.Fatal(`no "running" 30s after every source was bound`)
	}
	mu.Lock()
	for _, e := range atRun {
		t.Errorf(`when "running" was logged: %s`, e)
	}
	mu.Unlock()
	if code, body := readyz(admin); code != http.StatusOK {
		t.Errorf("/readyz once running: %d %q, want 200", code, body)
	}
}

// A source that neither binds nor fails within BindTimeout of its start
// fails the start, naming it: Run returns, never says "running".
func TestBindTimeout(t *testing.T) {
	daemon.SetBindTimeout(t, 300*time.Millisecond)
	src := newLate()
	dir := t.TempDir()
	logs := &syncBuf{}
	d, err := daemon.New(fmt.Appendf(nil, `{"dataDir": %q, "sources": {"stuck": {"type": "late"}},
		"destinations": {"out": {"type": "file", "path": %q}}}`, dir, filepath.Join(dir, "out.ndjson")),
		lateRegistry(src), slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(t.Context()) }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run still runs 30s after start with a source that never binds")
	}
	if want := "sources.stuck: not listening 300ms after it started"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Run: got %v, want an error holding %q", err, want)
	}
	if strings.Contains(logs.String(), "msg=running") {
		t.Errorf("logged running:\n%s", logs)
	}
}

// An address in use fails the start: Run returns at once an error at the
// source's field path naming the address (the daemon exits 1), and never
// says "running".
func TestListenerAddressInUse(t *testing.T) {
	for _, tc := range []struct {
		name, source, field string
	}{
		{"http", `{"type": "http", "addr": %q}`, "addr"},
		{"otlp grpc", `{"type": "otlp", "grpcAddr": %q}`, "grpcAddr"},
		{"otlp http", `{"type": "otlp", "httpAddr": %q}`, "httpAddr"},
		{"syslog tcp", `{"type": "syslog", "network": "tcp", "addr": %q}`, "addr"},
		{"syslog udp+tcp", `{"type": "syslog", "network": "udp+tcp", "addr": %q}`, "addr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			held, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer held.Close()
			addr := held.Addr().String()
			dir := t.TempDir()
			logs := &syncBuf{}
			d, err := daemon.New(fmt.Appendf(nil, `{"dataDir": %q, "sources": {"in": `+tc.source+`},
				"destinations": {"out": {"type": "file", "path": %q}}}`, dir, addr, filepath.Join(dir, "out.ndjson")),
				builtin.Registry(), slog.New(slog.NewTextHandler(logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- d.Run(t.Context()) }()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Run still runs 30s after start with its address in use")
			}
			want := fmt.Sprintf("sources.in.%s: listen tcp %s: bind: address already in use", tc.field, addr)
			if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, syscall.EADDRINUSE) {
				t.Errorf("Run: got %v, want an error holding %q that wraps EADDRINUSE", err, want)
			}
			if strings.Contains(logs.String(), "msg=running") {
				t.Errorf("logged running:\n%s", logs)
			}
		})
	}
}

// A reload that adds a source that listens returns once it is bound (a
// client connects at the first try), and one whose address is in use
// fails, naming its field.
func TestReloadAddsListener(t *testing.T) {
	addrs := listentest.FreeAddrs(t, 3)
	held, err := net.Listen("tcp", addrs[2])
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	dir := t.TempDir()
	config := func(sources string) []byte {
		return fmt.Appendf(nil, `{"dataDir": %q, "sources": {"a": {"type": "http", "addr": %q}%s},
			"destinations": {"out": {"type": "file", "path": %q}}}`, dir, addrs[0], sources, filepath.Join(dir, "out.ndjson"))
	}
	logs := &syncBuf{}
	d, err := daemon.New(config(""), builtin.Registry(), slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(t.Context()) }()
	defer func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	}()
	if err := d.Reload(t.Context(), config(fmt.Sprintf(`, "b": {"type": "http", "addr": %q}`, addrs[1]))); err != nil {
		t.Fatalf("reload adding source b: %v", err)
	}
	c, err := net.Dial("tcp", addrs[1])
	if err != nil {
		t.Errorf("connect to the source the reload added, once Reload returned: %v", err)
	} else {
		c.Close()
	}
	err = d.Reload(t.Context(), config(fmt.Sprintf(`, "b": {"type": "http", "addr": %q}, "c": {"type": "http", "addr": %q}`, addrs[1], addrs[2])))
	if want := fmt.Sprintf("sources.c.addr: listen tcp %s: bind: address already in use", addrs[2]); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("reload adding source c on an address in use: got %v, want an error holding %q", err, want)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "sources.c.addr") {
			t.Errorf("Run after the failed reload: %v, want the failure", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run still runs 30s after a reload's source failed")
	}
}
