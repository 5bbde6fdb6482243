package redaction

import "math/bits"

// The scans below look at one byte in every MinDigits (or every 5, for
// DEBUG), which any match must cover. Drop looks at four of those at
// once, with one branch and a table: in a Go wasm guest each
// taken branch and each call is a trip through the function's resumption
// table, and a byte loop takes two of them per byte. Run looks at one
// at a time (log lines have digits often enough that four at once cost
// more there) and measures the run around a digit 8 bytes at a time.
// Scanning every byte 8 at a time, without the stride, cost 5% more in
// the wasm guest.

// letter marks the letters of "DEBUG" with their index in it plus one.
var letter = func() (c [256]uint8) {
	for i, l := range "DEBUG" {
		c[l] = uint8(i + 1)
	}
	return c
}()

// Debug reports whether s contains "DEBUG".
func Debug(s string) bool { return Drop(s, "") }

// Drop reports whether an event with raw line raw and syslog message
// message is dropped: whether either contains "DEBUG". A message that
// lies within the raw line, as the syslog source makes it, is not
// searched again. It searches both in one function: in a Go wasm guest a
// call costs more than a few loop iterations.
func Drop(raw, message string) bool {
	s := raw
	for k := 0; k < 2; k++ {
		if k == 1 {
			if within(message, raw) {
				return false
			}
			s = message
		}
		// Every DEBUG in s covers exactly one of the bytes 4, 9, 14, …
		for i := 4; i < len(s); i += 5 {
			for i+15 < len(s) && letter[at(s, i)]|letter[at(s, i+5)]|letter[at(s, i+10)]|letter[at(s, i+15)] == 0 {
				i += 20
			}
			if i >= len(s) {
				break
			}
			if j := i - int(letter[s[i]]) + 1; j <= i && j+5 <= len(s) && s[j:j+5] == "DEBUG" {
				return true
			}
		}
	}
	return false
}

// Run returns where the first run of MinDigits or more ASCII digits in s
// starts and ends, or -1 and -1.
func Run(s string) (start, end int) {
	// Such a run covers one of the bytes MinDigits-1, 2*MinDigits-1, …
	for i := MinDigits - 1; i < len(s); i += MinDigits {
		if !isDigit(at(s, i)) {
			continue
		}
		// The run around s[i], found 8 bytes at a time: in a Go wasm
		// guest a loop iteration costs more than the arithmetic.
		start, end = i, i+1
		for start >= 8 {
			n := bits.LeadingZeros64(nonDigits(load64(s, start-8))) >> 3
			start -= n
			if n < 8 {
				break
			}
		}
		if start < 8 {
			for start > 0 && isDigit(at(s, start-1)) {
				start--
			}
		}
		for end+8 <= len(s) {
			n := bits.TrailingZeros64(nonDigits(load64(s, end))) >> 3
			end += n
			if n < 8 {
				break
			}
		}
		if end+8 > len(s) {
			for end < len(s) && isDigit(at(s, end)) {
				end++
			}
		}
		if end-start >= MinDigits {
			return start, end
		}
		i = end // s[end] is not a digit: a run after it covers end+MinDigits or later
	}
	return -1, -1
}

// nonDigits returns w, 8 bytes of a string loaded little-endian, with
// 0x80 in each byte that is not an ASCII digit and 0 in the others.
func nonDigits(w uint64) uint64 {
	const hi = 0x8080808080808080
	lo := w &^ hi // each byte < 0x80: the sums below carry into no other byte
	return (^(lo + 0x5050505050505050) | (lo + 0x4646464646464646) | w) & hi
}

// Append appends s to dst with each run of MinDigits or more digits
// replaced by Mask, and reports whether s had one; if not, it returns
// dst as it was.
func Append(dst []byte, s string) ([]byte, bool) {
	start, _ := Run(s)
	if start < 0 {
		return dst, false
	}
	return AppendFrom(dst, s, start), true
}

// AppendFrom is Append of s, whose first run starts at start (Run's
// result, ≥ 0).
func AppendFrom(dst []byte, s string, start int) []byte {
	for start >= 0 {
		end := start + MinDigits
		for end+8 <= len(s) { // 8 bytes at a time, as Run
			n := bits.TrailingZeros64(nonDigits(load64(s, end))) >> 3
			end += n
			if n < 8 {
				break
			}
		}
		for end < len(s) && isDigit(at(s, end)) {
			end++
		}
		dst = append(dst, s[:start]...)
		dst = append(dst, '[', 'r', 'e', 'd', 'a', 'c', 't', 'e', 'd', ']') // Mask, stored without a call to copy
		s = s[end:]
		start = -1
		if len(s) >= MinDigits { // what follows a run is often short: no call
			start, _ = Run(s)
		}
	}
	if n := len(dst); len(s) >= 8 && len(s) <= 16 && cap(dst)-n >= len(s) {
		// What follows the last run is often this short: copied in two
		// overlapping words, without a call to memmove.
		dst = dst[:n+len(s)]
		store64(dst, n, load64(s, 0))
		store64(dst, n+len(s)-8, load64(s, len(s)-8))
		return dst
	}
	return append(dst, s...)
}

func isDigit(c byte) bool { return c-'0' < 10 }
