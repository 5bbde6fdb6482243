package redaction

// The scans below look at one byte in every MinDigits (or every 5, for
// DEBUG), which any match must cover. Debug looks at four of those at
// once, with one branch and a table: in a Go wasm guest each taken branch
// and each call is a trip through the function's resumption table, and a
// byte loop takes two of them per byte. First looks at one at a time:
// log lines have digits often enough that four at once cost more there.

// letter marks the letters of "DEBUG" with their index in it plus one.
var letter = func() (c [256]uint8) {
	for i, l := range "DEBUG" {
		c[l] = uint8(i + 1)
	}
	return c
}()

// Debug reports whether s contains "DEBUG".
func Debug(s string) bool {
	// Every DEBUG in s covers exactly one of the bytes 4, 9, 14, …
	for i := 4; i < len(s); i += 5 {
		for i+15 < len(s) && letter[s[i]]|letter[s[i+5]]|letter[s[i+10]]|letter[s[i+15]] == 0 {
			i += 20
		}
		if i >= len(s) {
			break
		}
		if k := i - int(letter[s[i]]) + 1; k <= i && k+5 <= len(s) && s[k:k+5] == "DEBUG" {
			return true
		}
	}
	return false
}

// First returns the index of the first run of MinDigits or more ASCII
// digits in s, or -1.
func First(s string) int {
	// Such a run covers one of the bytes MinDigits-1, 2*MinDigits-1, …
	for i := MinDigits - 1; i < len(s); i += MinDigits {
		if !isDigit(s[i]) {
			continue
		}
		start, end := i, i+1
		for start > 0 && isDigit(s[start-1]) {
			start--
		}
		for end < len(s) && isDigit(s[end]) {
			end++
		}
		if end-start >= MinDigits {
			return start
		}
		i = end // s[end] is not a digit: a run after it covers end+MinDigits or later
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

func isDigit(c byte) bool { return c-'0' < 10 }
