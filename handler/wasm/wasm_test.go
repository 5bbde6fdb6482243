package wasm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/wasm"
	"github.com/sluicehq/sluice/internal/wasmtest"
)

type msg = sluice.Message[event.Event]

// cacheDir is the tests' compilation cache, kept across runs: compiling
// a Go guest takes seconds, and much longer under -race. wazero keys its
// entries by the module's hash and its own version.
var cacheDir = filepath.Join(os.TempDir(), "sluice-wasm-test-cache")

// guests are built once per test binary.
var (
	guestMu sync.Mutex
	guests  = map[string][]byte{}
)

func guest(tb testing.TB, dir string) []byte {
	tb.Helper()
	guestMu.Lock()
	defer guestMu.Unlock()
	if b, ok := guests[dir]; ok {
		return b
	}
	b := wasmtest.Build(tb, dir)
	guests[dir] = b
	return b
}

const (
	redactDir = "../../examples/wasm/redact"
	alertDir  = "../../examples/wasm/alert"
	faultyDir = "testdata/faulty"
)

// failure is what Options.Failed got.
type failure struct {
	n      int
	reason string
}

func newHandler(t *testing.T, module []byte, o wasm.Options) (*wasm.Handler, *[]failure) {
	t.Helper()
	var mu sync.Mutex
	var fails []failure
	if o.Failed == nil {
		o.Failed = func(msgs []msg, reason string) ([]msg, error) {
			mu.Lock()
			fails = append(fails, failure{len(msgs), reason})
			mu.Unlock()
			return nil, nil
		}
	}
	o.Name = "test"
	if o.CacheDir == "" {
		o.CacheDir = cacheDir
	}
	h, err := wasm.New(context.Background(), module, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return h, &fails
}

func raw(lines ...string) []msg {
	ms := make([]msg, len(lines))
	for i, l := range lines {
		ms[i] = msg{Key: fmt.Sprint("k", i), Value: event.Event{Raw: []byte(l), Source: "in"},
			Attributes: sluice.AttributesOf(sluice.Attr{Key: "n", Value: fmt.Sprint(i)})}
	}
	return ms
}

// TestRedactExample runs the redact example, and the same redaction
// written in C, a guest of ABI version 2 (if clang can build it).
func TestRedactExample(t *testing.T) {
	t.Run("go", func(t *testing.T) { testRedact(t, guest(t, redactDir)) })
	t.Run("c-abi-v2", func(t *testing.T) { testRedact(t, cGuest(t)) })
}

func testRedact(t *testing.T, module []byte) {
	h, fails := newHandler(t, module, wasm.Options{})
	in := raw(
		"card 4111111111111111 paid",
		"DEBUG card 4111111111111111",
		"short 12345678901 stays",
		"two 123456789012 and 9999999999999999999",
	)
	in[2].Value.Syslog = event.Syslog{Present: true, Message: "acct 000011112222 ok"}
	in[2].Value.Fields = []event.Field{{Name: "user", Value: "id 123456789012345"}}
	in[2].Value.HTTP = &event.HTTP{Path: "/pay/123456789012", Query: "card=4111111111111111&x=1"}
	out, err := h.HandleBatch(context.Background(), in)
	if err != nil || len(*fails) != 0 {
		t.Fatalf("err %v, failures %v", err, *fails)
	}
	want := []struct{ raw, key string }{
		{"card [redacted] paid", "k0"},
		{"short 12345678901 stays", "k2"},
		{"two [redacted] and [redacted]", "k3"},
	}
	if len(out) != len(want) {
		t.Fatalf("got %d events, want %d: %v", len(out), len(want), out)
	}
	for i, w := range want {
		if string(out[i].Value.Raw) != w.raw || out[i].Key != w.key || out[i].Attributes.Value("n") != w.key[1:] {
			t.Errorf("event %d: raw %q key %q attrs %v, want %q %q", i, out[i].Value.Raw, out[i].Key, out[i].Attributes, w.raw, w.key)
		}
	}
	e := out[1].Value
	if e.Syslog.Message != "acct [redacted] ok" || e.Fields[0].Value != "id [redacted]" || e.HTTP.Path != "/pay/[redacted]" ||
		e.HTTP.Query != "card=[redacted]&x=1" {
		t.Errorf("not redacted everywhere: %+v %+v %+v", e.Syslog, e.Fields, e.HTTP)
	}
	if in[2].Value.Fields[0].Value != "id 123456789012345" || in[2].Value.HTTP.Path != "/pay/123456789012" {
		t.Errorf("the input event changed: %+v", in[2].Value)
	}
}

func TestAlertExample(t *testing.T) {
	mark := func(m msg, route string) msg {
		m.Attributes = m.Attributes.With("route", route)
		return m
	}
	h, fails := newHandler(t, guest(t, alertDir), wasm.Options{
		Config: []byte(`{"pattern": "disk (full|failed)", "route": "alerts"}`),
		Routes: []string{"alerts"}, Route: mark,
	})
	out, err := h.HandleBatch(context.Background(), raw("all fine", "sda: disk full", "ok"))
	if err != nil || len(*fails) != 0 {
		t.Fatalf("err %v, failures %v", err, *fails)
	}
	var got []string
	for _, m := range out {
		got = append(got, m.Attributes.Value("route")+"|"+string(m.Value.Raw)+"|"+m.Key)
	}
	want := []string{"|all fine|k0", "|sda: disk full|k1", "alerts|ALERT sda: disk full|k1", "|ok|k2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if v, _ := out[2].Value.Field("alert.pattern"); v != "disk (full|failed)" {
		t.Errorf("alert.pattern = %q", v)
	}

	// A route the handler may not emit to fails the batch.
	h2, fails2 := newHandler(t, guest(t, alertDir), wasm.Options{
		Config: []byte(`{"pattern": "x", "route": "elsewhere"}`), Routes: []string{"alerts"}, Route: mark,
	})
	if out, err := h2.HandleBatch(context.Background(), raw("x")); err != nil || len(out) != 0 {
		t.Fatalf("got %v, %v", out, err)
	}
	if len(*fails2) != 1 || !strings.Contains((*fails2)[0].reason, `emits to route "elsewhere"`) {
		t.Errorf("failures %v", *fails2)
	}
}

// Each failure sends the whole batch to Failed with its reason, and the
// next batch is handled by a sound instance.
func TestFailures(t *testing.T) {
	module := guest(t, faultyDir)
	for _, tc := range []struct {
		first, reason string
	}{
		{"panic", "wasm module test: trap in sluice_handle: wasm error: unreachable: panic: guest panics on purpose | goroutine 1"},
		{"loop", "wasm module test: timeout: sluice_handle ran past its deadline"},
		{"grow", "wasm module test: trap in sluice_handle: wasm error: unreachable: runtime: out of memory: cannot allocate"},
		{"garbage", "wasm module test: malformed output: "},
		{"outside", "wasm module test: malformed output: 100 bytes at 4294967280, outside memory"},
		{"error", "wasm module test: guest error: you asked for it"},
		// The host sets aside room for the events the output can hold, not
		// for the count it claims.
		{"count", "wasm module test: malformed output: output 1: truncated at byte 20"},
		{"route:alerts", `wasm module test: malformed output: emits to route "alerts", which is not in the handler's emit list []`},
	} {
		t.Run(tc.first, func(t *testing.T) {
			timeout := 200 * time.Millisecond
			if tc.first == "grow" {
				timeout = 10 * time.Second // to fill 32 MiB
			}
			h, fails := newHandler(t, module, wasm.Options{Timeout: timeout, MemoryLimit: 32 << 20, Instances: 1})
			out, err := h.HandleBatch(context.Background(), raw(tc.first, "b", "c"))
			if err != nil || len(out) != 0 {
				t.Fatalf("got %d events, err %v", len(out), err)
			}
			if len(*fails) != 1 || (*fails)[0].n != 3 || !strings.HasPrefix((*fails)[0].reason, tc.reason) {
				t.Fatalf("failures %+v, want 3 events, %q", *fails, tc.reason)
			}
			out, err = h.HandleBatch(context.Background(), raw("ok"))
			if err != nil || len(out) != 1 || string(out[0].Value.Raw) != "ok!" {
				t.Fatalf("after the failure: %v, %v", out, err)
			}
		})
	}
}

func TestFailedNilIsFatal(t *testing.T) {
	h, err := wasm.New(context.Background(), guest(t, faultyDir), wasm.Options{Name: "f", CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	_, err = h.Handle(context.Background(), raw("error")[0])
	if err == nil || err.Error() != "wasm module f: guest error: you asked for it" {
		t.Errorf("err = %v", err)
	}
}

// abiV1Module exports only a function sluice_abi_v1: a guest of ABI
// version 1.
var abiV1Module = []byte("\x00asm\x01\x00\x00\x00" +
	"\x01\x04\x01\x60\x00\x00" + // type () → ()
	"\x03\x02\x01\x00" + // function 0 of type 0
	"\x07\x11\x01\x0dsluice_abi_v1\x00\x00" + // export it
	"\x0a\x04\x01\x02\x00\x0b") // its body: end

func TestNewErrors(t *testing.T) {
	command := wasmtest.BuildCommand(t, redactDir)
	for _, tc := range []struct {
		name   string
		module []byte
		o      wasm.Options
		path   string
		msg    string
	}{
		{"not wasm", []byte("#!/bin/sh\n"), wasm.Options{}, "module", "not a valid WebAssembly module"},
		// A function of type 48 of 1, with a memory (so that it is
		// instrumented): wazero v1.12.0's validation panics on it.
		{"type past the types", []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01`\x00\x00\x03\x03\x02\x000\x05\x03\x01\x000\n \x02\t\x00A0\x10\x01000\v\x14\x010\x7f000000000000000A\v"), wasm.Options{}, "module", "not a valid WebAssembly module"},
		{"empty module", []byte("\x00asm\x01\x00\x00\x00"), wasm.Options{}, "module",
			"not a sluice handler of ABI version 3 or 2 (docs/wasm.md): lacks the export sluice_abi_v3; lacks the export sluice_alloc"},
		{"ABI version 1", abiV1Module, wasm.Options{}, "module",
			"speaks ABI version 1, which this sluiced no longer reads: rebuild it with the current guest SDK (docs/wasm.md)"},
		{"command", command, wasm.Options{}, "module", "the module is a command (it exports _start), not a reactor: build it with -buildmode=c-shared"},
		{"init fails", guest(t, faultyDir), wasm.Options{Config: []byte(`"fail"`)}, "config", "the module rejects it: config says fail"},
		{"alert config", guest(t, alertDir), wasm.Options{Config: []byte(`{"pattern": "("}`)}, "config", `the module rejects it: config: "pattern" and "route" are required`},
		{"memory", guest(t, redactDir), wasm.Options{MemoryLimit: 1 << 20}, "memoryLimit", "the module needs more memory than the limit of 1024 KiB"},
		{"memory zero pages", guest(t, redactDir), wasm.Options{MemoryLimit: 1000}, "memoryLimit", "want 64KiB to 4GiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.CacheDir = cacheDir
			h, err := wasm.New(context.Background(), tc.module, tc.o)
			if err == nil {
				h.Close(context.Background())
				t.Fatal("no error")
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.Path != tc.path || !strings.Contains(fe.Msg, tc.msg) {
				t.Errorf("got %v, want %s: …%s…", err, tc.path, tc.msg)
			}
		})
	}
}

// Many goroutines share two instances; each gets its own batch back.
func TestConcurrentCalls(t *testing.T) {
	h, fails := newHandler(t, guest(t, faultyDir), wasm.Options{Instances: 2})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				line := fmt.Sprintf("g%d-%d", g, i)
				out, err := h.HandleBatch(context.Background(), raw(line, line))
				if err != nil || len(out) != 2 || string(out[1].Value.Raw) != line+"!" {
					t.Errorf("%s: %v, %v", line, out, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(*fails) != 0 {
		t.Errorf("failures: %v", *fails)
	}
}

// A call waiting for an instance gives up when its context is done, and a
// call cut short by its context is not a failure of the batch.
func TestContextDone(t *testing.T) {
	h, fails := newHandler(t, guest(t, faultyDir), wasm.Options{Instances: 1, Timeout: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := h.HandleBatch(ctx, raw("loop")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
	if len(*fails) != 0 {
		t.Errorf("failures: %v", *fails)
	}
	out, err := h.HandleBatch(context.Background(), raw("ok"))
	if err != nil || len(out) != 1 {
		t.Errorf("after: %v, %v", out, err)
	}
}

func TestCompilationCache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	for range 2 {
		h, _ := newHandler(t, guest(t, redactDir), wasm.Options{CacheDir: dir})
		h.Close(context.Background())
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Errorf("cache dir: %v, %v", entries, err)
	}
}

// A call that loops forever stops at its timeout even when every P runs
// a guest's machine code, which the Go scheduler cannot preempt: the
// instrumented checks leave for Go now and then, so the timer that stops
// the calls gets to run.
func TestTimeoutWithEveryPBusy(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	h, fails := newHandler(t, guest(t, faultyDir), wasm.Options{Timeout: 100 * time.Millisecond, Instances: 2})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := h.HandleBatch(context.Background(), raw("loop")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(*fails) != 2 || !strings.Contains((*fails)[0].reason, "timeout") || !strings.Contains((*fails)[1].reason, "timeout") {
		t.Errorf("failures %+v, want two timeouts", *fails)
	}
	if out, err := h.HandleBatch(context.Background(), raw("ok")); err != nil || len(out) != 1 {
		t.Errorf("after the timeouts: %v, %v", out, err)
	}
}

// Each kind of output through the host: a whole record and a patch of
// the raw line give the same events; a kept event is its input, routed;
// keys and attributes carry over, and the input events do not change.
func TestOutputKinds(t *testing.T) {
	mark := func(m msg, route string) msg {
		m.Attributes = m.Attributes.With("route", route)
		return m
	}
	h, fails := newHandler(t, guest(t, faultyDir), wasm.Options{Routes: []string{"alerts"}, Route: mark})
	for _, tc := range []struct{ first, want string }{
		{"record", "|record!|k0|in |b!|k1|in"},
		{"patch", "|patch!|k0|in |b!|k1|in"},
		{"route:alerts", "alerts|route:alerts|k0|in alerts|b|k1|in"},
	} {
		in := raw(tc.first, "b")
		out, err := h.HandleBatch(context.Background(), in)
		if err != nil || len(*fails) != 0 {
			t.Fatalf("%s: err %v, failures %v", tc.first, err, *fails)
		}
		var got []string
		for _, m := range out {
			got = append(got, fmt.Sprintf("%s|%s|%s|%s", m.Attributes.Value("route"), m.Value.Raw, m.Key, m.Value.Source))
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s: got %q, want %q", tc.first, strings.Join(got, " "), tc.want)
		}
		if string(in[0].Value.Raw) != tc.first || string(in[1].Value.Raw) != "b" {
			t.Errorf("%s: the input changed: %q %q", tc.first, in[0].Value.Raw, in[1].Value.Raw)
		}
	}
}
