package redaction

import (
	"regexp"
	"strings"
	"testing"
)

// runRef is Run written plainly: a byte at a time.
func runRef(s string) (start, end int) {
	run := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			if run >= MinDigits {
				return i - run, i
			}
			run = 0
			continue
		}
		run++
	}
	if run >= MinDigits {
		return len(s) - run, len(s)
	}
	return -1, -1
}

var runs = regexp.MustCompile(`[0-9]{12,}`)

// check compares the scans with their references on s.
func check(t *testing.T, s string) {
	t.Helper()
	start, end := Run(s)
	if wantStart, wantEnd := runRef(s); start != wantStart || end != wantEnd {
		t.Fatalf("Run(%q) = %d, %d, want %d, %d", s, start, end, wantStart, wantEnd)
	}
	if got, want := Debug(s), strings.Contains(s, "DEBUG"); got != want {
		t.Fatalf("Debug(%q) = %v, want %v", s, got, want)
	}
	want := runs.ReplaceAllString(s, Mask)
	got, ok := Append([]byte("x"), s)
	if ok != (want != s) || ok && string(got) != "x"+want || !ok && string(got) != "x" {
		t.Fatalf("Append(%q) = %q, %v; want %q", s, got, ok, want)
	}
	// Into a slice with room to spare: the short tail's word copy.
	if got, _ := Append(append(make([]byte, 0, 2*len(s)+16), 'x'), s); ok && string(got) != "x"+want {
		t.Fatalf("Append(%q) into room = %q, want %q", s, got, "x"+want)
	}
}

func TestScans(t *testing.T) {
	for _, s := range []string{
		"", "1", "DEBUG", "DEBU", "xDEBUG", "DEBUGx", "DDEBUG", "DEBDEBUG", "dEBUG", "D\x00EBUG",
		"12345678901", "123456789012", "1234567890123", "a12345678901", "a123456789012b",
		"12345678901 123456789012", "1234 5678 9012 3456", "2026-12-06T09:00:00.123456789Z 1234567890123",
		"12345678 12345678", "1234567\xb01234567890", "\xb0\xb1\xb2\xb3\xb4\xb5\xb6\xb7\xb8\xb9\xb0\xb1\xb2",
		"9999999999999999999999999999999999", "x11111111111 222222222222y3333333333333",
		"<14>1 2026-12-06T09:00:00Z web-1 shop - - - user 7 checked out order 1007 with card 4111111111111111 in 35ms",
	} {
		check(t, s)
	}
	// A run of each length at each offset, with digits or a DEBUG on
	// either side, past every word and group boundary.
	for n := 0; n <= 20; n++ {
		for at := 0; at <= 17; at++ {
			for _, pad := range []string{"a", "1", "DEBUG"} {
				check(t, strings.Repeat(pad, at)[:at]+"x"+strings.Repeat("7", n)+"y"+strings.Repeat("0", at%5))
				check(t, strings.Repeat("x", at)+strings.Repeat("5", n))
				check(t, strings.Repeat("5", n)+strings.Repeat(pad, at))
				check(t, strings.Repeat("x", at)+"DEBUG"+strings.Repeat("x", n))
			}
		}
	}
}

func TestDrop(t *testing.T) {
	raw := "<14>1 - - - - - a DEBUG line"
	for _, tc := range []struct {
		raw, message string
		want         bool
	}{
		{raw, raw[12:], true},
		{raw[:10], raw[12:], true}, // the message is not within the raw line: searched
		{"x", "DEBUG", true},
		{"DEBUG", "", true},
		{"<14>1 - - - - - a line", "a line", false},
		{"", "", false},
	} {
		if got := Drop(tc.raw, tc.message); got != tc.want {
			t.Errorf("Drop(%q, %q) = %v", tc.raw, tc.message, got)
		}
	}
}

// FuzzScans checks First, Debug and Append against plain references.
func FuzzScans(f *testing.F) {
	for _, s := range []string{"", "DEBUG", "a12345678901b123456789012c", "1234 5678 90123456 78901234", "\xb9\xb9\xb9\xb9 DEB"} {
		f.Add(s)
	}
	f.Fuzz(check)
}
