package wasm

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
)

// The timeout of a call needs the guest's code to look, now and then,
// whether it should stop. wazero's WithCloseOnContextDone does it by
// leaving the machine code for Go at every loop header: a Go guest, whose
// every function is a loop, pays that at every call and every iteration
// (3 to 4 times the cost of a batch). Instead, instrument adds the check
// to the module itself, at the entry of every function and the header of
// every loop (only the loop's when a function enters one straight away,
// as Go's all do): a countdown, and now and then a slower path,
//
//	global.get $tick  i32.const 1  i32.sub  global.set $tick
//	global.get $tick  i32.eqz
//	if  i32.const tickEvery  global.set $tick
//	    i32.const 0  memory.grow 0  drop           ; leave for Go
//	    global.get $stop  if  unreachable  end     ; trap if told to stop
//	end
//
// A loop's slower path is outside the loop, which is wrapped in blocks
// to leave it and come back (see wrap): a call in a loop, even one never
// made, costs each of its passes (with the Go guest, a call in the loop
// header cost 6% of a batch's instructions; wrapping the loop, 2%).
//
// To stop a call, the host sets $stop and $tick to 1 (exported as
// stopExport and tickExport): the guest traps at its next check, or if
// its countdown overwrote the 1, within tickEvery checks. The memory.grow
// of nothing leaves the machine code for Go, where the Go scheduler can
// preempt the goroutine: without it, calls looping in every P would keep
// the timer that stops them from ever running.

const (
	stopExport = "sluice.stop"
	tickExport = "sluice.tick"
	tickEvery  = 1 << 14
)

// errUninstrumented is wrapped by instrument's error for a module it
// cannot instrument (an instruction it does not know, such as SIMD): the
// handler then falls back to wazero's checks.
var errUninstrumented = errors.New("cannot instrument")

// Section ids, and the order they come in.
const (
	secCustom = 0
	secImport = 2
	secMemory = 5
	secGlobal = 6
	secExport = 7
	secCode   = 10
	secTag    = 13
)

// order gives a section's place among known sections; global comes after
// tag, and export after global.
func order(id byte) int {
	switch id {
	case secTag:
		return 55 // between memory (5) and global (6)
	case 12: // data count comes before code
		return 95
	}
	return int(id) * 10
}

// instrument returns module with the interrupt checks added, or an error
// wrapping errUninstrumented.
func instrument(module []byte) ([]byte, error) {
	if len(module) < 8 || !bytes.Equal(module[:8], []byte("\x00asm\x01\x00\x00\x00")) {
		return nil, fmt.Errorf("%w: not a WebAssembly 1 binary", errUninstrumented)
	}
	type section struct {
		id   byte
		body []byte
	}
	var secs []section
	r := reader{b: module, i: 8}
	for r.i < len(r.b) && r.err == nil {
		id := r.byte()
		n := r.u32()
		secs = append(secs, section{id, r.take(int(n))})
	}
	if r.err != nil {
		return nil, r.err
	}
	var importedGlobals, globals uint32
	memories := 0
	for _, s := range secs {
		switch s.id {
		case secImport:
			g, m, err := countImports(s.body)
			if err != nil {
				return nil, err
			}
			importedGlobals += g
			memories += m
		case secGlobal:
			sr := reader{b: s.body}
			globals = sr.u32()
			if sr.err != nil {
				return nil, sr.err
			}
		case secMemory:
			sr := reader{b: s.body}
			memories += int(sr.u32())
		}
	}
	if memories == 0 {
		return nil, fmt.Errorf("%w: the module has no memory", errUninstrumented)
	}
	stop, tick := importedGlobals+globals, importedGlobals+globals+1

	// New globals: mutable i32 $stop = 0 and $tick = tickEvery.
	newGlobals := []byte{0x7F, 0x01, 0x41, 0x00, 0x0B, 0x7F, 0x01, 0x41}
	newGlobals = appendS32(newGlobals, tickEvery)
	newGlobals = append(newGlobals, 0x0B)
	newExport := appendU32(append(appendName(nil, stopExport), 0x03), stop)
	newExport = appendU32(append(appendName(newExport, tickExport), 0x03), tick)

	out := append([]byte(nil), module[:8]...)
	emit := func(id byte, body []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	haveGlobal, haveExport := false, false
	for i, s := range secs {
		// A missing global or export section goes before the first
		// section that comes after it.
		if s.id != secCustom {
			if !haveGlobal && order(s.id) > order(secGlobal) {
				emit(secGlobal, append([]byte{2}, newGlobals...))
				haveGlobal = true
			}
			if !haveExport && order(s.id) > order(secExport) {
				emit(secExport, append([]byte{2}, newExport...))
				haveExport = true
			}
		}
		switch s.id {
		case secGlobal:
			emit(s.id, slices.Concat(appendU32(nil, globals+2), skipCount(s.body), newGlobals))
			haveGlobal = true
		case secExport:
			sr := reader{b: s.body}
			n := sr.u32()
			for k := n; k > 0 && sr.err == nil; k-- {
				if name := string(sr.take(int(sr.u32()))); name == stopExport || name == tickExport {
					sr.fail("the module exports %s already", name)
				}
				sr.byte() // kind
				sr.u32()  // index
			}
			if sr.err != nil {
				return nil, sr.err
			}
			emit(s.id, slices.Concat(appendU32(nil, n+2), skipCount(s.body), newExport))
			haveExport = true
		case secCode:
			body, err := instrumentCode(s.body, stop, tick)
			if err != nil {
				return nil, err
			}
			emit(s.id, body)
		case secCustom:
			// Debugging information would point at the old code.
			sr := reader{b: s.body}
			if name := sr.take(int(sr.u32())); sr.err == nil && bytes.HasPrefix(name, []byte(".debug_")) {
				continue
			}
			emit(s.id, s.body)
		default:
			emit(s.id, s.body)
		}
		if i == len(secs)-1 {
			if !haveGlobal {
				emit(secGlobal, append([]byte{2}, newGlobals...))
			}
			if !haveExport {
				emit(secExport, append([]byte{2}, newExport...))
			}
		}
	}
	return out, nil
}

// checkCode is the instructions added at function entries (and at
// the headers of loops not wrapped).
func checkCode(stop, tick uint32) []byte {
	c := append(countCode(tick), 0x04, 0x40) // if
	c = append(c, leaveCode(stop, tick)...)  //   leave
	return append(c, 0x0B)                   // end
}

// countCode counts down and says whether the countdown ran out.
func countCode(tick uint32) []byte {
	var c []byte
	c = append(appendU32(append(c, 0x23), tick), 0x41, 0x01, 0x6B, 0x24) // global.get tick; i32.const 1; i32.sub; global.set
	c = appendU32(c, tick)
	return append(appendU32(append(c, 0x23), tick), 0x45) // global.get tick; i32.eqz
}

// leaveCode resets the countdown, leaves for Go and traps if told to stop.
func leaveCode(stop, tick uint32) []byte {
	var c []byte
	c = appendU32(append(appendS32(append(c, 0x41), tickEvery), 0x24), tick) // i32.const tickEvery; global.set tick
	c = append(c, 0x41, 0x00, 0x40, 0x00, 0x1A)                              // i32.const 0; memory.grow 0; drop
	return append(appendU32(append(c, 0x23), stop), 0x04, 0x40, 0x00, 0x0B)  // global.get stop; if; unreachable; end
}

// wrap and unwrap are what a loop whose block type is bt (one byte)
// becomes, with its header's check:
//
//	block bt ($out)  loop ($again)  block ($leave)
//	    loop bt  <count>  br_if $leave  <the loop's body>  end  br $out
//	end
//	<leave>  br $again
//	end  unreachable  end
//
// The unreachable makes the code after $again, where nothing goes, give
// $out the loop's result.
func wrap(bt byte, tick uint32) []byte {
	c := []byte{0x02, bt, 0x03, 0x40, 0x02, 0x40, 0x03, bt}
	return append(append(c, countCode(tick)...), 0x0D, 0x01) // br_if $leave
}

func unwrap(stop, tick uint32) []byte {
	c := append([]byte{0x0B, 0x0C, 0x02, 0x0B}, leaveCode(stop, tick)...) // end; br $out; end
	return append(c, 0x0C, 0x00, 0x0B, 0x00, 0x0B)                        // br $again; end; unreachable; end
}

// depth returns the depth of a branch to depth d among the open blocks,
// loops and ifs in frames (true for a wrapped loop): each wrapped loop
// the branch leaves has three more around it.
func depth(frames []bool, d uint32) uint32 {
	if uint64(d) >= uint64(len(frames)) {
		return d // invalid: wazero refuses the module
	}
	n := d
	for _, w := range frames[len(frames)-int(d):] {
		if w {
			n += 3
		}
	}
	return n
}

// countImports returns the number of globals and memories imported.
func countImports(b []byte) (globals uint32, memories int, err error) {
	r := reader{b: b}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		r.take(int(r.u32())) // module
		r.take(int(r.u32())) // name
		switch kind := r.byte(); kind {
		case 0x00: // function: type index
			r.u32()
		case 0x01: // table: reference type, limits
			r.byte()
			r.limits()
		case 0x02:
			r.limits()
			memories++
		case 0x03: // global: value type, mutability
			r.byte()
			r.byte()
			globals++
		case 0x04: // tag: attribute, type index
			r.byte()
			r.u32()
		default:
			r.fail("import of kind %#x", kind)
		}
	}
	return globals, memories, r.err
}

// skipCount returns a vector's bytes after its count.
func skipCount(b []byte) []byte {
	r := reader{b: b}
	r.u32()
	return b[r.i:]
}

// instrumentCode rewrites the code section's function bodies.
func instrumentCode(b []byte, stop, tick uint32) ([]byte, error) {
	r := reader{b: b}
	n := r.u32()
	out := appendU32(nil, n)
	check, unwrapped := checkCode(stop, tick), unwrap(stop, tick)
	var body []byte
	var frames []bool // the open blocks, loops and ifs: true for a wrapped loop
	for ; n > 0 && r.err == nil; n-- {
		fr := reader{b: r.take(int(r.u32()))}
		if r.err != nil {
			break
		}
		body = body[:0]
		for locals := fr.u32(); locals > 0 && fr.err == nil; locals-- {
			fr.u32()
			fr.valueType()
		}
		body = append(body, fr.b[:fr.i]...)
		if !loopFirst(fr) {
			body = append(body, check...)
		}
		frames = append(frames[:0], false)
		for fr.i < len(fr.b) && fr.err == nil {
			start := fr.i
			switch op := fr.instruction(); {
			case fr.err != nil:
			case op == 0x03 && fr.i == start+2 && fr.b[start+1] >= 0x40: // loop of no type or a value type, not of a type index
				body = append(body, wrap(fr.b[start+1], tick)...)
				frames = append(frames, true)
				continue
			case op == 0x02 || op == 0x03 || op == 0x04: // block, loop (checked in place), if
				frames = append(frames, false)
				if op == 0x03 {
					body = append(append(body, fr.b[start:fr.i]...), check...)
					continue
				}
			case op == 0x0B && len(frames) > 0: // end
				wrapped := frames[len(frames)-1]
				frames = frames[:len(frames)-1]
				if wrapped {
					body = append(body, unwrapped...)
					continue
				}
			case op == 0x0C || op == 0x0D || op == 0x0E: // br, br_if, br_table
				at := reader{b: fr.b[start+1 : fr.i]}
				k := uint32(1)
				body = append(body, op)
				if op == 0x0E {
					k = at.u32() + 1
					body = appendU32(body, k-1)
				}
				for ; k > 0; k-- {
					body = appendU32(body, depth(frames, at.u32()))
				}
				continue
			}
			body = append(body, fr.b[start:fr.i]...)
		}
		if fr.err != nil {
			return nil, fr.err
		}
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	if r.err == nil && r.i != len(r.b) {
		r.fail("%d bytes after the code section's last function", len(r.b)-r.i)
	}
	return out, r.err
}

// loopFirst reports whether the code at r (a copy) enters a loop before
// it can branch, call or return: then the loop header's check is the
// entry's too, and the entry needs none of its own. Every function Go
// compiles to WebAssembly starts so (a few locals set, blocks opened,
// then the loop of its resumption table), and a call would otherwise pay
// two checks.
func loopFirst(r reader) bool {
	for r.i < len(r.b) && r.err == nil {
		switch op := r.instruction(); {
		case op == 0x03: // loop
			return r.err == nil
		case op == 0x01 || op == 0x02 || op == 0x1A || op == 0x1B: // nop, block, drop, select
		case op >= 0x20 && op <= 0x24: // local and global get, set, tee
		case op >= 0x28 && op <= 0x44: // loads, stores, memory.size/grow, constants
		case op >= 0x45 && op <= 0xC4: // numeric
		default: // a branch, call, return, end, trap or anything else
			return false
		}
	}
	return false
}

type reader struct {
	b   []byte
	i   int
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: at byte %d: %s", errUninstrumented, r.i, fmt.Sprintf(format, args...))
	}
	r.i = len(r.b)
}

func (r *reader) byte() byte {
	if r.i >= len(r.b) {
		r.fail("truncated")
		return 0
	}
	c := r.b[r.i]
	r.i++
	return c
}

func (r *reader) take(n int) []byte {
	if n < 0 || n > len(r.b)-r.i {
		r.fail("length %d past the end", n)
		return nil
	}
	v := r.b[r.i : r.i+n]
	r.i += n
	return v
}

// leb reads an unsigned or signed LEB128 of at most max bytes.
func (r *reader) leb(max int) uint64 {
	var v uint64
	for k := 0; k < max; k++ {
		c := r.byte()
		if k < 10 {
			v |= uint64(c&0x7F) << (7 * k)
		}
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail("LEB128 longer than %d bytes", max)
	return 0
}

func (r *reader) u32() uint32 { return uint32(r.leb(5)) }

func (r *reader) limits() {
	flags := r.byte()
	if flags > 7 {
		r.fail("limits flags %#x", flags)
	}
	r.leb(10)
	if flags&1 != 0 {
		r.leb(10)
	}
}

func (r *reader) valueType() {
	switch t := r.byte(); t {
	case 0x7F, 0x7E, 0x7D, 0x7C, 0x7B, 0x70, 0x6F:
	default:
		r.fail("value type %#x", t)
	}
}

func (r *reader) blockType() {
	if r.i < len(r.b) {
		switch r.b[r.i] {
		case 0x40, 0x7F, 0x7E, 0x7D, 0x7C, 0x7B, 0x70, 0x6F:
			r.i++
			return
		}
	}
	r.leb(5) // a type index, as a signed 33-bit number
}

func (r *reader) memarg() {
	align := r.u32()
	if align&0x40 != 0 { // multi-memory: a memory index follows
		r.u32()
	}
	r.leb(10)
}

// instruction reads one instruction and returns its opcode, which for
// the prefixes 0xFC is the prefix.
func (r *reader) instruction() byte {
	op := r.byte()
	switch {
	case op == 0x02 || op == 0x03 || op == 0x04: // block, loop, if
		r.blockType()
	case op == 0x00 || op == 0x01 || op == 0x05 || op == 0x0B || op == 0x0F || op == 0x1A || op == 0x1B:
	case op == 0x0C || op == 0x0D || op == 0x10 || op == 0x12 || op == 0xD2: // br, br_if, call, return_call, ref.func
		r.u32()
	case op == 0x0E: // br_table
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.u32()
		}
		r.u32()
	case op == 0x11 || op == 0x13: // call_indirect, return_call_indirect
		r.u32()
		r.u32()
	case op == 0x1C: // select with types
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.valueType()
		}
	case op >= 0x20 && op <= 0x26: // locals, globals, table.get/set
		r.u32()
	case op >= 0x28 && op <= 0x3E: // loads and stores
		r.memarg()
	case op == 0x3F || op == 0x40: // memory.size, memory.grow
		r.u32()
	case op == 0x41:
		r.leb(5)
	case op == 0x42:
		r.leb(10)
	case op == 0x43:
		r.take(4)
	case op == 0x44:
		r.take(8)
	case op >= 0x45 && op <= 0xC4, op == 0xD1: // numeric, sign extension, ref.is_null
	case op == 0xD0: // ref.null
		r.byte()
	case op == 0xFC:
		switch sub := r.u32(); {
		case sub <= 7: // saturating truncation
		case sub == 8 || sub == 12 || sub == 14: // memory.init, table.init, table.copy
			r.u32()
			r.u32()
		case sub == 10: // memory.copy
			r.u32()
			r.u32()
		case sub == 9 || sub == 11 || sub == 13 || (sub >= 15 && sub <= 17): // data.drop, memory.fill, elem.drop, table.grow/size/fill
			r.u32()
		default:
			r.fail("instruction 0xFC %d", sub)
		}
	default: // SIMD, threads, exceptions, GC and what is to come
		r.fail("instruction %#x", op)
	}
	return op
}

func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7F)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte {
	return append(appendU32(b, uint32(len(s))), s...)
}
