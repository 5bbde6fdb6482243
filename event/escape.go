package event

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
	"unsafe"
)

// AppendString appends s as a quoted JSON string and returns the extended
// buffer. It escapes what encoding/json escapes, with two differences in
// spelling, not in meaning: \b and \f are written \u0008 and \u000c, and
// '<', '>' and '&' are kept as they are (encoding/json's SetEscapeHTML
// false). Invalid UTF-8 becomes U+FFFD; U+2028 and U+2029 are escaped.
func AppendString[S string | []byte](dst []byte, s S) []byte {
	return appendString(dst, asString(s))
}

// asString returns s as a string without copying it: a string's header
// is the first two words of a slice's. The result must be read only
// while s is not written to.
func asString[S string | []byte](s S) string {
	return *(*string)(unsafe.Pointer(&s))
}

// appendString is AppendString for a string: the escaping code is not
// generic, so that its loads of eight bytes compile to one load each.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	i := 0
	switch {
	case len(s) < 4:
		for i < len(s) && !isSpecial[s[i]] {
			i++
		}
		if i == len(s) { // byte by byte: cheaper than a call to memmove
			for j := range len(s) {
				dst = append(dst, s[j])
			}
			return append(dst, '"')
		}
	case len(s) < 8:
		// Names, ids: two half words, which may overlap, checked as one
		// word and stored as they are when dst has room.
		lo, hi := load32(s, 0), load32(s, len(s)-4)
		if special(uint64(lo)|uint64(hi)<<32) != 0 {
			for i < len(s) && !isSpecial[s[i]] {
				i++
			}
			break
		}
		if n := len(dst); n+8 <= cap(dst) {
			p := unsafe.Pointer(unsafe.SliceData(dst))
			binary.LittleEndian.PutUint32((*[4]byte)(unsafe.Add(p, n))[:], lo)
			binary.LittleEndian.PutUint32((*[4]byte)(unsafe.Add(p, n+len(s)-4))[:], hi)
			return append(dst[:n+len(s)], '"')
		}
		i = len(s)
	case len(s) <= 16:
		// Hosts, addresses: two words, which may overlap, stored as
		// they are when dst has room.
		lo, hi := load64(s, 0), load64(s, len(s)-8)
		if special(lo)|special(hi) != 0 {
			i = next(s, 0)
			break
		}
		if n := len(dst); n+16 <= cap(dst) {
			p := unsafe.Pointer(unsafe.SliceData(dst))
			binary.LittleEndian.PutUint64((*[8]byte)(unsafe.Add(p, n))[:], lo)
			binary.LittleEndian.PutUint64((*[8]byte)(unsafe.Add(p, n+len(s)-8))[:], hi)
			return append(dst[:n+len(s)], '"')
		}
		i = len(s)
	default:
		i = next(s, 0)
	}
	if i < len(s) { // most strings need no escaping
		dst, _, _ = appendEscaped(dst, s, i, false)
	} else {
		dst = append(dst, s...)
	}
	return append(dst, '"')
}

// appendEscaped appends s escaped for a JSON string, without quotes,
// where i is next(s, 0): s[:i] needs no escaping. It
// returns the extended buffer and the span of s, from the first byte to
// just past the last one, that holds every byte that is not plain ASCII
// (see [special]); an empty span at len(s) when there is none. With
// strict, it stops at the first invalid UTF-8 and returns ok false; dst
// then holds part of s.
//
// Safe runs are found by next (sixteen or eight bytes a step) and copied
// with one append, so the cost is one step per run of plain bytes plus
// one per escape.
func appendEscaped(dst []byte, s string, i int, strict bool) (_ []byte, sp span, ok bool) {
	start := 0
	sp = span{i, i}
	for i < len(s) {
		b := s[i]
		if b < utf8.RuneSelf {
			dst = appendRun(dst, s, start, i)
			if c := shortEscape[b]; c != 0 {
				dst = append(dst, '\\', c)
			} else {
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				if strict {
					return dst, sp, false
				}
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\ufffd`...)
				start = i + 1
			case r == '\u2028' || r == '\u2029':
				dst = append(dst, s[start:i]...)
				dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
				start = i + size
			}
			i += size
		}
		sp.hi = i
		switch {
		case i+8 <= len(s): // escapes come close together in some text (JSON)
			if m := special(load64(s, i)); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
			} else {
				i = next(s, i+8)
			}
		case i < len(s) && s[i] < utf8.RuneSelf: // non-ASCII text goes on rune by rune
			i = next(s, i)
		}
	}
	dst = append(dst, s[start:]...)
	return dst, sp, true
}

// appendRun appends s[i:j], 0 <= i <= j <= len(s), to dst and returns
// the extended buffer. A run of at most eight bytes, with eight bytes of
// s from i and eight of spare capacity in dst, is stored as one word (the
// bytes past it are written over by what is appended next): no call to
// memmove, which most short runs (names, numbers, the text between two
// quotes) would cost.
func appendRun(dst []byte, s string, i, j int) []byte {
	if n := len(dst); j-i <= 8 && i+8 <= len(s) && n+8 <= cap(dst) {
		// In bounds by the conditions above: a load and a store, unchecked.
		*(*[8]byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(dst)), n)) = *(*[8]byte)(unsafe.Add(unsafe.Pointer(unsafe.StringData(s)), i))
		return dst[:n+j-i]
	}
	return append(dst, s[i:j]...)
}

// span is the part [lo, hi) of a string that needed escaping.
type span struct{ lo, hi int }

const hex = "0123456789abcdef"

// shortEscape[b] is the byte after the backslash of b's two-byte JSON
// escape, 0 if b has none (and is written \u00XX).
var shortEscape = [utf8.RuneSelf]byte{'"': '"', '\\': '\\', '\n': 'n', '\r': 'r', '\t': 't'}

// nextSWAR is [next] eight bytes at a time, in portable Go.
func nextSWAR(s string, i int) int {
	// The bytes as a slice: each word is then one load and one bounds
	// check (of the eight-byte slice, whose length the compiler knows).
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	for ; i+16 <= len(b); i += 16 { // two words a step: one branch
		if special(binary.LittleEndian.Uint64(b[i:i+8:i+8]))|special(binary.LittleEndian.Uint64(b[i+8:i+16:i+16])) != 0 {
			break
		}
	}
	for ; i+8 <= len(b); i += 8 {
		if m := special(binary.LittleEndian.Uint64(b[i : i+8 : i+8])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	if i == len(s) {
		return i
	}
	if len(s) >= 8 {
		// The last eight bytes, those before i (seen already, perhaps
		// special and so borrowing) made plain.
		seen := uint64(1)<<(8*(i+8-len(s))) - 1
		if m := special(load64(s, len(s)-8)&^seen|'a'*ones&seen) &^ seen; m != 0 {
			return len(s) - 8 + bits.TrailingZeros64(m)>>3
		}
		return len(s)
	}
	for ; i < len(s) && !isSpecial[s[i]]; i++ {
	}
	return i
}

// isSpecial[b] reports whether b is not plain ASCII (see [special]).
var isSpecial = func() (t [256]bool) {
	for b := range t {
		t[b] = b < 0x20 || b >= utf8.RuneSelf || b == '"' || b == '\\'
	}
	return t
}()

// load32 reads s[i:i+4] as a little-endian word, as load64 does.
func load32(s string, i int) uint32 {
	return binary.LittleEndian.Uint32(unsafe.Slice(unsafe.StringData(s), len(s))[i : i+4 : i+4])
}

// load64 reads s[i:i+8] as a little-endian word, s[i] in the low byte:
// one load and one bounds check (indexing the bytes one by one costs a
// check for each).
func load64(s string, i int) uint64 {
	return binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s), len(s))[i : i+8 : i+8])
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special returns a word whose lowest set bit is the high bit of the
// first byte of w (lowest first) that is not plain ASCII: a control
// character, '"', '\\' or a byte of 0x80 or more; 0 if there is none.
// Bits above the first may be set falsely.
//
// w-0x20, (w^'"')-1 and (w^'\\')-1 set a byte's high bit if the byte is
// below 0x20, a quote or a backslash, and w's own high bit marks the rest.
// Only such a byte borrows from the byte above it, so every byte below
// the first one is computed exactly.
func special(w uint64) uint64 {
	q := w ^ '"'*ones
	bs := w ^ '\\'*ones
	return (w | (w - 0x20*ones) | (q - ones) | (bs - ones)) & highs
}
