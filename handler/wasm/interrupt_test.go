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
	return funcsModule(exports, nil, body)
}

// funcsModule is a module with one memory and functions of the given
// bodies, each of type params → (); with exports, the first is exported
// as "f".
func funcsModule(exports bool, params []byte, bodies ...[]byte) []byte {
	section := func(m []byte, id byte, body []byte) []byte {
		return append(appendU32(append(m, id), uint32(len(body))), body...)
	}
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = section(m, 0x01, slices.Concat([]byte{0x01, 0x60}, appendU32(nil, uint32(len(params))), params, []byte{0x00})) // one type
	m = section(m, 0x03, append(appendU32(nil, uint32(len(bodies))), make([]byte, len(bodies))...))                    // all of type 0
	m = section(m, 0x05, []byte{0x01, 0x00, 0x01})                                                                     // memory of 1 page
	if exports {
		m = section(m, 0x07, []byte{0x01, 0x01, 'f', 0x00, 0x00}) // export "f" func 0
	}
	code := appendU32(nil, uint32(len(bodies)))
	for _, b := range bodies {
		code = append(appendU32(code, uint32(len(b))), b...)
	}
	return section(m, 0x0A, code)
}

// instantiate instruments m and starts it, as an instance whose timer
// and context stop its calls, in a runtime closed at the end of the test.
func instantiate(t *testing.T, m []byte) *instance {
	t.Helper()
	m, err := instrument(m)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	t.Cleanup(func() { rt.Close(ctx) })
	mod, err := rt.Instantiate(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{mod: mod}
	in.instrumented(mod.ExportedGlobal(stopExport).(api.MutableGlobal), mod.ExportedGlobal(tickExport).(api.MutableGlobal))
	return in
}

// An instrumented infinite loop stops when its context is done, in a
// module that had no global or export section for the flag.
func TestInstrumentStopsALoop(t *testing.T) {
	for _, exports := range []bool{true, false} {
		in := instantiate(t, loopModule(exports))
		if in.stop.Get() != 0 {
			t.Fatalf("exports %v: the flag is %v", exports, in.stop.Get())
		}
		if !exports {
			continue
		}
		// Stopped by the instance's timer, by the caller's context, and
		// by both at about the same time; then a call that ends in time.
		for _, c := range []struct {
			name     string
			ctx      time.Duration // 0: context.Background
			timeout  time.Duration
			timedOut bool
		}{{"timeout", 0, 50 * time.Millisecond, true}, {"context", 50 * time.Millisecond, time.Hour, false}, {"both", 20 * time.Millisecond, 20 * time.Millisecond, false}} {
			cctx, cancel := context.Background(), context.CancelFunc(func() {})
			if c.ctx > 0 {
				cctx, cancel = context.WithTimeout(cctx, c.ctx)
			}
			err := in.run(cctx, c.timeout, in.mod.ExportedFunction("f"))
			cancel()
			if err == nil || !strings.Contains(err.Error(), "unreachable") {
				t.Errorf("%s: err = %v, want the trap", c.name, err)
			}
			if in.stop.Get() != 0 {
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
	for _, s := range shapes() {
		f.Add(funcsModule(true, s.params, s.bodies...))
	}
	f.Fuzz(func(t *testing.T, m []byte) {
		out, err := instrument(m)
		if err != nil {
			return
		}
		ctx := context.Background()
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
		defer rt.Close(ctx)
		if _, err := compile(ctx, rt, m); err != nil {
			return
		}
		if _, err := compile(ctx, rt, out); err != nil {
			t.Fatalf("compiles, but not once instrumented: %v", err)
		}
	})
}

// shape is a module of functions of type params → (), the first
// exported as "f", which, once instrumented, has entries checks in place
// and loops wrapped loops, and ends having counted down to ticks, or if
// ticks is 0 does not end.
type shape struct {
	name    string
	params  []byte
	bodies  [][]byte
	entries int
	loops   int
	ticks   uint64
}

// shapes are the modules TestInstrumentEntryChecks runs, and seeds of
// FuzzInstrument.
func shapes() []shape {
	loop := []byte{0x03, 0x40, 0x0C, 0x00, 0x0B} // loop; br 0; end
	// count loops until its i32 local i is 100.
	count := func(i byte) []byte {
		return []byte{0x03, 0x40, 0x20, i, 0x41, 0x01, 0x6A, 0x22, i, 0x41, 0xE4, 0x00, 0x48, 0x0D, 0x00, 0x0B} // loop; local.get i; i32.const 1; i32.add; local.tee i; i32.const 100; i32.lt_s; br_if 0; end
	}
	return []shape{
		{"loop", nil, [][]byte{slices.Concat([]byte{0x00}, loop, []byte{0x0B})}, 0, 1, 0},
		{"as Go starts", nil, [][]byte{slices.Concat([]byte{0x01, 0x01, 0x7F, 0x23, 0x00, 0x21, 0x00, 0x02, 0x40}, loop, []byte{0x0B, 0x0B})}, 0, 1, 0}, // global.get; local.set; block; loop
		{"call first", nil, [][]byte{slices.Concat([]byte{0x00, 0x10, 0x00}, loop, []byte{0x0B})}, 1, 1, 0},                                             // call 0 (itself); loop
		{"branch first", nil, [][]byte{slices.Concat([]byte{0x00, 0x41, 0x01, 0x04, 0x40, 0x0F, 0x0B}, loop, []byte{0x0B})}, 1, 1, 0},                   // if return end; loop
		{"recursion", nil, [][]byte{{0x00, 0x10, 0x00, 0x0B}}, 1, 0, 0},
		{"mutual recursion", nil, [][]byte{{0x00, 0x10, 0x01, 0x0B}, {0x00, 0x10, 0x00, 0x0B}}, 2, 0, 0},
		{"loop of calls of a loop", nil, [][]byte{{0x00, 0x03, 0x40, 0x10, 0x01, 0x0C, 0x00, 0x0B, 0x0B}, slices.Concat([]byte{0x01, 0x01, 0x7F}, count(0), []byte{0x0B})}, 0, 2, 0},
		{"a loop that ends", nil, [][]byte{slices.Concat([]byte{0x01, 0x01, 0x7F}, count(0), []byte{0x0B})}, 0, 1, tickEvery - 100},
		{"a branch out of the loop", nil, [][]byte{slices.Concat([]byte{0x01, 0x01, 0x7F, 0x02, 0x40}, count(0)[:12], []byte{0x4E, 0x0D, 0x01, 0x0C, 0x00, 0x0B, 0x0B, 0x0B})}, 0, 1, tickEvery - 100},       // block; loop; ...; i32.ge_s; br_if 1; br 0; end; end
		{"br_table", nil, [][]byte{slices.Concat([]byte{0x01, 0x01, 0x7F, 0x02, 0x40}, count(0)[:13], []byte{0x0E, 0x01, 0x01, 0x00, 0x0B, 0x0B, 0x0B})}, 0, 1, tickEvery - 100},                             // block; loop; ...; br_table [1] 0; end; end
		{"nested loops", nil, [][]byte{slices.Concat([]byte{0x01, 0x01, 0x7F, 0x03, 0x40, 0x02, 0x40}, count(0)[:12], []byte{0x4E, 0x0D, 0x03, 0x0C, 0x00, 0x0B, 0x0B, 0x0B, 0x0B})}, 0, 2, tickEvery - 101}, // loop; block; loop; ...; br_if 3 (return); br 0; end; end; end
		{"a loop with a result", nil, [][]byte{slices.Concat([]byte{0x01, 0x01, 0x7F, 0x03, 0x7F}, count(0)[2:15], []byte{0x20, 0x00, 0x0B, 0x1A, 0x0B})}, 0, 1, tickEvery - 100},                            // loop (result i32); ...; local.get 0; end; drop
		{"a loop of a type", nil, [][]byte{slices.Concat([]byte{0x01, 0x01, 0x7F, 0x03, 0x00}, count(0)[2:], []byte{0x0B})}, 1, 0, tickEvery - 100},                                                          // loop (type 0): checked in place
		{"parameters", []byte{0x7E, 0x7C}, [][]byte{slices.Concat([]byte{0x01, 0x01, 0x7F}, count(2), []byte{0x0B})}, 0, 1, tickEvery - 100},
	}
}

// A function that enters a loop before it can branch, call or return (as
// every Go function does) is checked at the loop's header alone; any
// other gets the entry's check too, so that recursion without loops is
// still bounded. A loop or a recursion that does not end is stopped,
// branches out of wrapped loops land where they did, and a loop that
// ends counts each pass.
func TestInstrumentEntryChecks(t *testing.T) {
	for _, tc := range shapes() {
		m := funcsModule(true, tc.params, tc.bodies...)
		im, err := instrument(m)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := bytes.Count(im, checkCode(0, 1)); got != tc.entries {
			t.Errorf("%s: %d checks in place, want %d", tc.name, got, tc.entries)
		}
		if got := bytes.Count(im, unwrap(0, 1)); got != tc.loops {
			t.Errorf("%s: %d wrapped loops, want %d", tc.name, got, tc.loops)
		}
		in := instantiate(t, m)
		if tc.ticks == 0 { // told to stop first, it traps
			in.stop.Set(1)
			in.tick.Set(1)
		}
		// A call that should end but does not is stopped in a minute.
		err = in.run(context.Background(), time.Minute, in.mod.ExportedFunction("f"))
		switch {
		case tc.ticks == 0 && (err == nil || !strings.Contains(err.Error(), "unreachable")):
			t.Errorf("%s: err = %v, want the trap of a stopped call", tc.name, err)
		case tc.ticks != 0 && (err != nil || in.timedOut.Load()):
			t.Errorf("%s: %v", tc.name, err)
		case tc.ticks != 0 && in.tick.Get() != tc.ticks:
			t.Errorf("%s: the countdown is %d, want %d", tc.name, in.tick.Get(), tc.ticks)
		}
	}
}
