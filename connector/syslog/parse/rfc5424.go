package parse

import (
	"encoding/binary"
	"math/bits"
)

// header describes an RFC 5424 header field: its maximum length and the
// reasons given when it is wrong.
type header struct {
	max int
	// missing: the input ends before the field; empty: two SPs; bad: a
	// byte that is not PRINTUSASCII; tooLong: longer than max; next: the
	// input ends just after the field.
	missing, empty, bad, tooLong, next string
}

var (
	hostnameField = header{255, "missing hostname", "empty hostname",
		"invalid byte in hostname", "hostname longer than 255 bytes", "missing app-name"}
	appNameField = header{48, "missing app-name", "empty app-name",
		"invalid byte in app-name", "app-name longer than 48 bytes", "missing procid"}
	procIDField = header{128, "missing procid", "empty procid",
		"invalid byte in procid", "procid longer than 128 bytes", "missing msgid"}
	msgIDField = header{32, "missing msgid", "empty msgid",
		"invalid byte in msgid", "msgid longer than 32 bytes", "missing structured data"}
)

// utf8BOM starts an RFC 5424 MSG-UTF8.
const utf8BOM = "\xEF\xBB\xBF"

// parse5424 parses the rest of an RFC 5424 message, from index i just
// after PRI.
func parse5424(m *Message, b []byte, i int, last *lastDate) (int, string) {
	m.Format, m.Version = RFC5424, 1
	switch {
	case i == len(b):
		return i, "missing version"
	case !isDigit(b[i]):
		return i, "invalid version"
	case b[i] != '1' || i+1 < len(b) && isDigit(b[i+1]):
		return i, "unsupported version: want 1"
	}
	i++
	if i == len(b) || b[i] != ' ' {
		return i, "want SP after version"
	}
	i++

	switch {
	case i == len(b):
		return i, "missing timestamp"
	case b[i] == '-':
		i++
	default:
		t, n, bad, reason := parseRFC3339(b[i:], last)
		if reason != "" {
			return i + bad, reason
		}
		m.Timestamp = t
		i += n
	}
	if i < len(b) && b[i] != ' ' {
		return i, "invalid timestamp"
	}
	i++

	var reason string
	if m.Hostname, i, reason = field(b, i, &hostnameField); reason != "" {
		return i, reason
	}
	if m.AppName, i, reason = field(b, i, &appNameField); reason != "" {
		return i, reason
	}
	if m.ProcID, i, reason = field(b, i, &procIDField); reason != "" {
		return i, reason
	}
	if m.MsgID, i, reason = field(b, i, &msgIDField); reason != "" {
		return i, reason
	}

	if i == len(b) {
		return i, "missing structured data"
	}
	end, reason := structuredData(b, i)
	if reason != "" {
		return end, reason
	}
	if b[i] != '-' {
		m.StructuredData = b[i:end]
	}
	if end == len(b) {
		return 0, ""
	}
	if b[end] != ' ' {
		return end, "want SP after structured data"
	}
	msg := b[end+1:]
	if len(msg) >= 3 && string(msg[:3]) == utf8BOM {
		msg = msg[3:]
	}
	m.Msg = nonEmpty(msg)
	return 0, ""
}

// field parses the header field at b[i:] and the SP that must follow it.
// It returns the field (nil for "-") and the index after the SP, or the
// offset and the reason of a failure.
func field(b []byte, i int, h *header) ([]byte, int, string) {
	if i >= len(b) {
		return nil, len(b), h.missing
	}
	start := i
	i = printEnd(b, i)
	if n := i - start; n > 1 && n <= h.max && i < len(b) && b[i] == ' ' {
		return b[start:i], i + 1, "" // the common case, checked first
	}
	switch {
	case i-start > h.max:
		return nil, start + h.max, h.tooLong
	case i < len(b) && b[i] != ' ':
		return nil, i, h.bad
	case i == start:
		return nil, i, h.empty
	case i == len(b):
		return nil, i, h.next
	case i-start == 1 && b[start] == '-':
		return nil, i + 1, ""
	}
	return b[start:i], i + 1, ""
}

// structuredData checks the STRUCTURED-DATA at b[i:] (i < len(b)) and
// returns the index after it, or the offset and the reason of a failure.
func structuredData(b []byte, i int) (int, string) {
	if b[i] == '-' {
		return i + 1, ""
	}
	if b[i] != '[' {
		return i, "invalid structured data: want '-' or '['"
	}
	for i < len(b) && b[i] == '[' {
		end, reason := sdName(b, i+1, "empty or invalid SD-ID", "SD-ID longer than 32 bytes")
		if reason != "" {
			return end, reason
		}
		i = end
		for {
			if i == len(b) {
				return i, "unterminated SD-ELEMENT"
			}
			if b[i] == ']' {
				i++
				break
			}
			if b[i] != ' ' {
				return i, "invalid byte in SD-ID or after SD-PARAM: want SP or ']'"
			}
			if i, reason = sdName(b, i+1, "empty or invalid PARAM-NAME", "PARAM-NAME longer than 32 bytes"); reason != "" {
				return i, reason
			}
			if i == len(b) || b[i] != '=' {
				return i, "invalid byte in PARAM-NAME: want '='"
			}
			if i++; i == len(b) || b[i] != '"' {
				return i, "want '\"' to start PARAM-VALUE"
			}
			if i, reason = paramValue(b, i+1); reason != "" {
				return i, reason
			}
		}
	}
	return i, ""
}

// sdName scans the SD-NAME (an SD-ID or a PARAM-NAME) at b[i:] and returns
// the index after it.
func sdName(b []byte, i int, empty, tooLong string) (int, string) {
	start := i
	for i < len(b) && sdNameChar[b[i]] {
		i++
	}
	if i-start > 32 {
		return start + 32, tooLong
	}
	if i == start {
		return i, empty
	}
	return i, ""
}

// paramValue scans the PARAM-VALUE at b[i:], just after its opening quote,
// and returns the index after its closing quote. A backslash escapes the
// byte after it, whatever it is (see the package doc).
func paramValue(b []byte, i int) (int, string) {
	for i < len(b) {
		switch b[i] {
		case '"':
			return i + 1, ""
		case '\\':
			i += 2
		default:
			i++
		}
	}
	return len(b), "unterminated PARAM-VALUE"
}

// printEnd returns the index of the first byte of b[i:] that is not
// PRINTUSASCII, or len(b): eight bytes a step, so that a short field
// costs one test rather than a branch per byte.
func printEnd(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		if m := notPrint(binary.LittleEndian.Uint64(b[i : i+8 : i+8])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for i < len(b) && printable[b[i]] {
		i++
	}
	return i
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// notPrint returns a word whose lowest set bit is the high bit of the
// first byte of w (lowest first) that is not PRINTUSASCII (below '!' or
// above '~'); 0 if there is none. Bits above the first may be set
// falsely: (w-'!')&^w sets the high bit of a byte below '!' and w+1 that
// of 0x7f, w's own high bit marks the rest, and only a flagged byte
// borrows from or carries into the byte above it.
func notPrint(w uint64) uint64 {
	return ((w-'!'*ones)&^w | (w + ones) | w) & highs
}
