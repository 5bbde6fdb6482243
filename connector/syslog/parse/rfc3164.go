package parse

import (
	"bytes"
	"time"
)

// parse3164 parses the rest of an RFC 3164 message from index i, just after
// PRI (0 if there is none), following the rules in the doc of [Parse]. It
// cannot fail.
func parse3164(m *Message, b []byte, i int, now time.Time, loc *time.Location, last *lastDate) {
	m.Format, m.Version = RFC3164, 0
	j := skipSP(b, i)
	t, n, ok := parseBSD(b[j:], now, loc)
	if !ok {
		var reason string
		t, n, _, reason = parseRFC3339(b[j:], last)
		ok = reason == ""
	}
	if !ok || j+n < len(b) && b[j+n] != ' ' {
		m.Msg = nonEmpty(b[i:])
		return
	}
	m.Timestamp = t

	j = skipSP(b, j+n)
	end := tokenEnd(b, j)
	if tag(m, b[j:end]) {
		m.Msg = after(b, end)
		return
	}
	if !hostname(b[j:end]) {
		m.Msg = nonEmpty(b[j:])
		return
	}
	m.Hostname = b[j:end]

	j = skipSP(b, end)
	end = tokenEnd(b, j)
	if tag(m, b[j:end]) {
		m.Msg = after(b, end)
		return
	}
	m.Msg = nonEmpty(b[j:])
}

// tag reports whether tok is a TAG, "app:" or "app[pid]:", and if so sets
// m.AppName and m.ProcID.
func tag(m *Message, tok []byte) bool {
	n := len(tok)
	if n < 2 || tok[n-1] != ':' {
		return false
	}
	app := 0
	for app < n-1 && isPrint(tok[app]) && tok[app] != ':' && tok[app] != '[' && tok[app] != ']' {
		app++
	}
	if app == 0 || app > 48 {
		return false
	}
	var pid []byte
	switch {
	case app == n-1: // "app:"
	case tok[app] == '[' && tok[n-2] == ']' && app < n-2: // "app[pid]:"
		pid = tok[app+1 : n-2]
		if len(pid) > 128 {
			return false
		}
		for _, c := range pid {
			if !isPrint(c) || c == ']' {
				return false
			}
		}
	default:
		return false
	}
	m.AppName, m.ProcID = tok[:app], nonEmpty(pid)
	return true
}

// hostname reports whether tok is an RFC 3164 HOSTNAME: 1–255 printable
// US-ASCII bytes.
func hostname(tok []byte) bool {
	if len(tok) == 0 || len(tok) > 255 {
		return false
	}
	for _, c := range tok {
		if !isPrint(c) {
			return false
		}
	}
	return true
}

// skipSP returns the index of the first byte of b at or after i that is
// not SP.
func skipSP(b []byte, i int) int {
	for i < len(b) && b[i] == ' ' {
		i++
	}
	return i
}

// tokenEnd returns the index of the first SP in b at or after i, or len(b).
func tokenEnd(b []byte, i int) int {
	if k := bytes.IndexByte(b[i:], ' '); k >= 0 {
		return i + k
	}
	return len(b)
}

// after returns what follows the SP at b[end], or nil if end is len(b).
func after(b []byte, end int) []byte {
	if end >= len(b) {
		return nil
	}
	return nonEmpty(b[end+1:])
}
