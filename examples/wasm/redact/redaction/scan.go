package redaction

import (
	"encoding/binary"
	"unsafe"
)

// The scans below look at one byte in every MinDigits (or every 5, for
// DEBUG), which any match must cover, and at four of those at once with
// one branch and a table, and around them only where one might be part
// of a match. That matters most in a Go wasm guest, where each taken
// branch and each call is a trip through the function's resumption table.

// class marks the bytes the scans look for: digits, and the letters of
// "DEBUG" with their index in it plus one.
var class = func() (c [256]uint8) {
	for d := '0'; d <= '9'; d++ {
		c[d] = isDigitClass
	}
	for i, l := range "DEBUG" {
		c[l] = uint8(i + 1)
	}
	return c
}()

const isDigitClass = 8

// Debug reports whether s contains "DEBUG".
func Debug(s string) bool {
	b := bytesOf(s)
	// Every DEBUG in s covers exactly one of the bytes 4, 9, 14, …
	for i := 4; i < len(b); i += 5 {
		for i+15 < len(b) && (class[b[i]]|class[b[i+5]]|class[b[i+10]]|class[b[i+15]])&^isDigitClass == 0 {
			i += 20
		}
		if i >= len(b) {
			break
		}
		if k := int(class[b[i]]&^isDigitClass) - 1; k >= 0 && i-k+5 <= len(b) &&
			b[i-k] == 'D' && binary.LittleEndian.Uint32(b[i-k+1:]) == 'E'|'B'<<8|'U'<<16|'G'<<24 {
			return true
		}
	}
	return false
}

// First returns the index of the first run of MinDigits or more ASCII
// digits in s, or -1.
func First(s string) int {
	b := bytesOf(s)
	// Such a run covers one of the bytes MinDigits-1, 2*MinDigits-1, …
	for i := MinDigits - 1; i < len(b); i += MinDigits {
		if !isDigit(b[i]) {
			continue
		}
		start, end := i, i+1
		for start > 0 && isDigit(b[start-1]) {
			start--
		}
		for end < len(b) && isDigit(b[end]) {
			end++
		}
		if end-start >= MinDigits {
			return start
		}
		i = end // b[end] is not a digit: a run after it covers end+MinDigits or later
	}
	return -1
}

// Append appends s to dst with each run of MinDigits or more digits
// replaced by Mask, and reports whether s had one; if not, it returns
// dst as it was.
func Append(dst []byte, s string) ([]byte, bool) {
	start := First(s)
	if start < 0 {
		return dst, false
	}
	return appendFrom(dst, s, start), true
}

// appendFrom is Append of s, whose first run starts at start.
func appendFrom(dst []byte, s string, start int) []byte {
	for start >= 0 {
		end := start + MinDigits
		for end < len(s) && isDigit(s[end]) {
			end++
		}
		dst = append(dst, s[:start]...)
		dst = append(dst, Mask...)
		s = s[end:]
		start = First(s)
	}
	return append(dst, s...)
}

func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func isDigit(c byte) bool { return c-'0' < 10 }
