package wasm

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// loopModule is a module with one memory and an exported function "f"
// that loops forever; with body, f's body is that instead (locals
// included). It has no global section; exports says whether it has an
// export section.
func loopModule(exports bool, body ...byte) []byte {
	if body == nil {
		body = []byte{0x00, 0x03, 0x40, 0x0C, 0x00, 0x0B, 0x0B} // no locals; loop; br 0; end; end
	}
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00) // type () → ()
	m = append(m, 0x03, 0x02, 0x01, 0x00)             // function 0 of type 0
	m = append(m, 0x05, 0x03, 0x01, 0x00, 0x01)       // memory of 1 page
	if exports {
		m = append(m, 0x07, 0x05, 0x01, 0x01, 'f', 0x00, 0x00) // export "f" func 0
	}
	code := appendU32([]byte{0x01}, uint32(len(body)))
	code = append(code, body...)
	m = append(m, 0x0A)
	m = appendU32(m, uint32(len(code)))
	return append(m, code...)
}

// An instrumented infinite loop stops when its context is done, in a
// module that had no global or export section for the flag.
func TestInstrumentStopsALoop(t *testing.T) {
	for _, exports := range []bool{true, false} {
		m, err := instrument(loopModule(exports))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		rt := wazero.NewRuntime(ctx)
		defer rt.Close(ctx)
		mod, err := rt.Instantiate(ctx, m)
		if err != nil {
			t.Fatalf("exports %v: %v", exports, err)
		}
		stop := mod.ExportedGlobal(stopExport)
		if stop == nil || stop.Get() != 0 {
			t.Fatalf("exports %v: the flag is %v", exports, stop)
		}
		if !exports {
			continue
		}
		in := &instance{mod: mod}
		in.instrumented(stop.(api.MutableGlobal), mod.ExportedGlobal(tickExport).(api.MutableGlobal))
		// Stopped by the instance's timer, by the caller's context, and
		// by both at about the same time; then a call that ends in time.
		for _, c := range []struct {
			name     string
			ctx      time.Duration // 0: context.Background
			timeout  time.Duration
			timedOut bool
		}{{"timeout", 0, 50 * time.Millisecond, true}, {"context", 50 * time.Millisecond, time.Hour, false}, {"both", 20 * time.Millisecond, 20 * time.Millisecond, false}} {
			cctx, cancel := ctx, context.CancelFunc(func() {})
			if c.ctx > 0 {
				cctx, cancel = context.WithTimeout(ctx, c.ctx)
			}
			err = in.run(cctx, c.timeout, mod.ExportedFunction("f"))
			cancel()
			if err == nil || !strings.Contains(err.Error(), "unreachable") {
				t.Errorf("%s: err = %v, want the trap", c.name, err)
			}
			if stop.Get() != 0 {
				t.Errorf("%s: the flag is still set after the call", c.name)
			}
			if c.name != "both" && in.timedOut.Load() != c.timedOut {
				t.Errorf("%s: timedOut = %v", c.name, in.timedOut.Load())
			}
		}
	}
}

// What instrument cannot read it refuses, and the handler falls back to
// wazero's checks.
func TestInstrumentRefuses(t *testing.T) {
	for name, m := range map[string][]byte{
		"SIMD":      loopModule(true, 0x00, 0xFD, 0x0C, 0x0B), // v128.const, cut short
		"no memory": []byte("\x00asm\x01\x00\x00\x00"),
		"not wasm":  []byte("#!/bin/sh"),
		"truncated": loopModule(true)[:20],
		"taken name": func() []byte { // exports "sluice.tick"
			m := loopModule(false)
			exp := append(appendName([]byte{0x01}, tickExport), 0x00, 0x00)
			return slices.Concat(m[:8+6+4+5], append([]byte{0x07, byte(len(exp))}, exp...), m[8+6+4+5:])
		}(),
		"bad LEB": append([]byte("\x00asm\x01\x00\x00\x00\x01"), 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF),
	} {
		if _, err := instrument(m); !errors.Is(err, errUninstrumented) || (name == "taken name" && !strings.Contains(err.Error(), "exports sluice.tick already")) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// instrument never panics, and what wazero compiles it still compiles
// once instrumented.
func FuzzInstrument(f *testing.F) {
	f.Add(loopModule(true))
	f.Add(loopModule(false))
	f.Add(loopModule(true, 0x01, 0x02, 0x7F, 0x41, 0x05, 0x21, 0x00, 0x03, 0x40, 0x20, 0x00, 0x41, 0x01, 0x6B, 0x22, 0x00, 0x0D, 0x00, 0x0B, 0x0B))
	f.Add(loopModule(true, 0x00, 0x41, 0x00, 0x41, 0x00, 0x41, 0x08, 0xFC, 0x0B, 0x00, 0x0B)) // memory.fill
	f.Fuzz(func(t *testing.T, m []byte) {
		out, err := instrument(m)
		if err != nil {
			return
		}
		ctx := context.Background()
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
		defer rt.Close(ctx)
		if _, err := rt.CompileModule(ctx, m); err != nil {
			return
		}
		if _, err := rt.CompileModule(ctx, out); err != nil {
			t.Fatalf("compiles, but not once instrumented: %v", err)
		}
	})
}

// A function that enters a loop before it can branch, call or return (as
// every Go function does) is checked at the loop's header alone; any
// other gets the entry's check too, so that recursion without loops is
// still bounded.
func TestInstrumentEntryChecks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   []byte
		checks int
	}{
		{"loop first", []byte{0x00, 0x03, 0x40, 0x0C, 0x00, 0x0B, 0x0B}, 1},
		{"as Go starts", []byte{0x01, 0x01, 0x7F, 0x23, 0x00, 0x21, 0x00, 0x02, 0x40, 0x03, 0x40, 0x0C, 0x00, 0x0B, 0x0B, 0x0B}, 1}, // global.get; local.set; block; loop
		{"call first", []byte{0x00, 0x10, 0x00, 0x03, 0x40, 0x0C, 0x00, 0x0B, 0x0B}, 2},                                             // call 0 (itself); loop
		{"branch first", []byte{0x00, 0x41, 0x01, 0x04, 0x40, 0x0F, 0x0B, 0x03, 0x40, 0x0C, 0x00, 0x0B, 0x0B}, 2},                   // if return end; loop
		{"no loop", []byte{0x00, 0x10, 0x00, 0x0B}, 1},
	} {
		m, err := instrument(loopModule(true, tc.body...))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := bytes.Count(m, checkCode(0, 1)); got != tc.checks {
			t.Errorf("%s: %d checks, want %d", tc.name, got, tc.checks)
		}
	}
	// Recursion without a loop is still stopped.
	m, err := instrument(loopModule(true, 0x00, 0x10, 0x00, 0x0B))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	mod, err := rt.Instantiate(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	stop := mod.ExportedGlobal(stopExport).(api.MutableGlobal)
	stop.Set(1)
	mod.ExportedGlobal(tickExport).(api.MutableGlobal).Set(1)
	if _, err := mod.ExportedFunction("f").Call(ctx); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("err = %v, want the trap of a stopped call", err)
	}
}
