package wasm_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/examples/wasm/redact/redaction"
	"github.com/sluicehq/sluice/handler/wasm"
	"github.com/sluicehq/sluice/internal/cputime"
	"github.com/sluicehq/sluice/internal/wasmtest"
)

// batch returns n syslog events as wasmtest.Events makes them.
func batch(n int) []msg {
	ms := make([]msg, n)
	for i, e := range wasmtest.Events(n) {
		ms[i] = msg{Value: e}
	}
	return ms
}

// native is the redaction written as an ordinary Go handler.
var native = sluice.HandlerFunc[event.Event, event.Event](func(_ context.Context, m msg) ([]msg, error) {
	if !redaction.Event(&m.Value) {
		return nil, nil
	}
	return []msg{m}, nil
})

// BenchmarkRedact compares the redact example run as a wasm module on
// batches of 256 with the same redaction as a native handler (the same
// scans of package redaction over an event.Event), per event.
func BenchmarkRedact(b *testing.B) {
	const size = 256
	in := batch(size)
	b.Run("native", func(b *testing.B) {
		b.ReportAllocs()
		ctx := context.Background()
		cpu0 := cputime.Process()
		for b.Loop() {
			for i := range in {
				if _, err := native.Handle(ctx, in[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
		wasmtest.PerEvent(b, size, cpu0)
	})
	var want [][]byte // what the native handler hands on, encoded
	for _, m := range in {
		out, _ := native.Handle(context.Background(), m)
		for _, o := range out {
			want = append(want, o.Value.AppendRecord(nil))
		}
	}
	run := func(b *testing.B, module []byte) {
		h := benchHandler(b, module)
		out, err := h.HandleBatch(context.Background(), in)
		if err != nil || len(out) != len(want) {
			b.Fatalf("%d events, %v", len(out), err)
		}
		for i, o := range out {
			if got := o.Value.AppendRecord(nil); !bytes.Equal(got, want[i]) {
				b.Fatalf("event %d differs from the native handler's:\n%q\n%q", i, got, want[i])
			}
		}
		b.ReportAllocs()
		ctx := context.Background()
		cpu0 := cputime.Process()
		for b.Loop() {
			out, err := h.HandleBatch(ctx, in)
			if err != nil || len(out) != size-size/10 {
				b.Fatalf("%d events, %v", len(out), err)
			}
		}
		wasmtest.PerEvent(b, size, cpu0)
	}
	b.Run(fmt.Sprintf("wasm-batch-%d", size), func(b *testing.B) { run(b, guest(b, redactDir)) })
	// The same with wazero's termination checks instead of the module's
	// own (interrupt.go): what instrumenting saves.
	b.Run(fmt.Sprintf("wasm-batch-%d-wazero-checks", size), func(b *testing.B) {
		defer wasm.WazeroChecks()()
		run(b, guest(b, redactDir))
	})
	// The same redaction written in C (testdata/credact): what a compiler
	// that emits plain WebAssembly costs, ABI and host included.
	b.Run(fmt.Sprintf("wasm-c-batch-%d", size), func(b *testing.B) { run(b, cGuest(b)) })
}

// BenchmarkGoGuestParts splits the Go guest's cost on the batch of
// BenchmarkRedact: a guest that drops every event (the host's side, and
// reading the events), and one that emits each unchanged (Emit's too).
// The redact guest's cost beyond the latter is the redaction's own.
func BenchmarkGoGuestParts(b *testing.B) {
	const size = 256
	in := batch(size)
	for _, g := range []struct{ name, dir string }{{"read", "testdata/sdkdrop"}, {"read-emit", "testdata/sdkkeep"}} {
		b.Run(g.name, func(b *testing.B) {
			h := benchHandler(b, guest(b, g.dir))
			b.ReportAllocs()
			cpu0 := cputime.Process()
			for b.Loop() {
				if _, err := h.HandleBatch(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
			wasmtest.PerEvent(b, size, cpu0)
		})
	}
}

// cGuest builds testdata/credact with clang, or skips: a guest of ABI
// version 2.
func cGuest(b testing.TB) []byte {
	b.Helper()
	cc := ""
	for _, name := range []string{"clang", "clang-14", "clang-15", "clang-16", "clang-17", "clang-18", "clang-19"} {
		if p, err := exec.LookPath(name); err == nil {
			cc = p
			break
		}
	}
	if cc == "" {
		b.Skip("no clang to build testdata/credact (apt-get install clang lld)")
	}
	out := filepath.Join(b.TempDir(), "credact.wasm")
	cmd := exec.Command(cc, "--target=wasm32", "-O2", "-nostdlib", "-mbulk-memory", "-Wl,--no-entry",
		"-Wl,--export=sluice_abi_v2", "-Wl,--export=sluice_alloc", "-Wl,--export=sluice_init", "-Wl,--export=sluice_handle",
		"-o", out, "testdata/credact/redact.c")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Skipf("%s cannot build testdata/credact (wasm-ld from lld is needed too): %v\n%s", cc, err, msg)
	}
	m, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// benchGuests are the redact guests the call and start benchmarks run:
// the Go one and the C one.
var benchGuests = []struct {
	name   string
	module func(*testing.B) []byte
}{{"go", func(b *testing.B) []byte { return guest(b, redactDir) }}, {"c", func(b *testing.B) []byte { return cGuest(b) }}}

// BenchmarkCall is the overhead of one call: a batch of one short event,
// into the Go guest and into the C guest (whose own work is a few
// instructions: what is left is the host's).
func BenchmarkCall(b *testing.B) {
	in := []msg{{Value: event.Event{Raw: []byte("x")}}}
	for _, g := range benchGuests {
		b.Run(g.name, func(b *testing.B) {
			h := benchHandler(b, g.module(b))
			b.ReportAllocs()
			cpu0 := cputime.Process()
			for b.Loop() {
				if _, err := h.HandleBatch(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkInstantiate is the cost of starting an instance (module
// compiled): what a failed batch costs besides the batch, and each of the
// first calls that run at once.
func BenchmarkInstantiate(b *testing.B) {
	for _, g := range benchGuests {
		b.Run(g.name, func(b *testing.B) {
			h := benchHandler(b, g.module(b))
			b.ReportAllocs()
			cpu0 := cputime.Process()
			for b.Loop() {
				if err := wasm.Instantiate(context.Background(), h); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

func benchHandler(b *testing.B, module []byte) *wasm.Handler {
	b.Helper()
	h, err := wasm.New(context.Background(), module, wasm.Options{Name: "redact", CacheDir: cacheDir, Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close(context.Background()) })
	return h
}
