package event

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends e as one JSON object, without a newline, to dst and
// returns the extended buffer. It allocates nothing when dst has room.
func (e *Event) AppendJSON(dst []byte) []byte {
	return e.AppendJSONWith(dst, JSONOptions{})
}

// JSONOptions says what [Event.AppendJSONWith] leaves out.
type JSONOptions struct {
	// OmitParsedRaw leaves out "raw" (and "rawBase64") when the event's
	// fields were parsed from it ([Event.Parsed]): the parsed fields stand
	// for the original bytes, which halves a syslog line's size. Events
	// that were not parsed, or failed to, keep their raw bytes.
	OmitParsedRaw bool
}

// JSONRaw returns the options for a destination's jsonRaw setting:
// "always" (or "", the default) keeps "raw" in every event's JSON,
// "unparsed" sets [JSONOptions.OmitParsedRaw].
func JSONRaw(mode string) (JSONOptions, error) {
	switch mode {
	case "", "always":
		return JSONOptions{}, nil
	case "unparsed":
		return JSONOptions{OmitParsedRaw: true}, nil
	}
	return JSONOptions{}, fmt.Errorf("want always or unparsed, got %q", mode)
}

// AppendJSONWith is [Event.AppendJSON] with options.
func (e *Event) AppendJSONWith(dst []byte, o JSONOptions) []byte {
	dst = append(dst, `{"ts":"`...)
	dst = appendTime(dst, e.Timestamp())
	dst = append(dst, `","receivedAt":"`...)
	dst = appendTime(dst, e.ReceivedAt)
	dst = append(dst, '"')
	dst = appendField(dst, `,"source":`, e.Source)
	dst = appendField(dst, `,"sourceType":`, e.SourceType)
	dst = appendField(dst, `,"host":`, e.Host)
	dst = appendField(dst, `,"contentType":`, e.ContentType)
	if len(e.Raw) > 0 && !(o.OmitParsedRaw && e.Parsed()) {
		if utf8.Valid(e.Raw) {
			dst = append(dst, `,"raw":`...)
			dst = AppendString(dst, e.Raw)
		} else {
			dst = append(dst, `,"rawBase64":"`...)
			dst = base64.StdEncoding.AppendEncode(dst, e.Raw)
			dst = append(dst, '"')
		}
	}
	if e.Flags != 0 {
		dst = append(dst, `,"flags":[`...)
		first := true
		for i, n := range flagNames {
			if e.Flags&(1<<i) != 0 {
				if !first {
					dst = append(dst, ',')
				}
				first = false
				dst = append(dst, '"')
				dst = append(dst, n...)
				dst = append(dst, '"')
			}
		}
		dst = append(dst, ']')
	}
	if e.File.Path != "" {
		dst = append(dst, `,"file":{"path":`...)
		dst = AppendString(dst, e.File.Path)
		dst = append(dst, `,"offset":`...)
		dst = strconv.AppendInt(dst, e.File.Offset, 10)
		dst = append(dst, '}')
	}
	if e.Syslog.Present {
		dst = e.Syslog.appendJSON(dst)
	}
	if e.HTTP != nil {
		dst = e.HTTP.appendJSON(dst)
	}
	if len(e.Fields) > 0 {
		dst = append(dst, `,"fields":{`...)
		for i, f := range e.Fields {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, f.Name)
			dst = append(dst, ':')
			dst = AppendString(dst, f.Value)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func (s *Syslog) appendJSON(dst []byte) []byte {
	dst = append(dst, `,"syslog":{"facility":`...)
	dst = appendUint8(dst, s.Facility)
	dst = append(dst, `,"severity":`...)
	dst = appendUint8(dst, s.Severity)
	if s.Version != 0 {
		dst = append(dst, `,"version":`...)
		dst = appendUint8(dst, s.Version)
	}
	dst = appendField(dst, `,"hostname":`, s.Hostname)
	dst = appendField(dst, `,"appName":`, s.AppName)
	dst = appendField(dst, `,"procId":`, s.ProcID)
	dst = appendField(dst, `,"msgId":`, s.MsgID)
	if s.StructuredData != "" {
		dst = append(dst, `,"structuredData":{`...)
		first := true
		for id, params := range s.Elements() {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = AppendString(dst, id)
			dst = append(dst, `:{`...)
			firstParam := true
			for name, value := range params {
				if !firstParam {
					dst = append(dst, ',')
				}
				firstParam = false
				dst = AppendString(dst, name)
				dst = append(dst, ':')
				dst = appendSDValue(dst, value)
			}
			dst = append(dst, '}')
		}
		dst = append(dst, '}')
	}
	dst = appendField(dst, `,"message":`, s.Message)
	return append(dst, '}')
}

func (h *HTTP) appendJSON(dst []byte) []byte {
	dst = append(dst, `,"http":{`...)
	n := len(dst)
	dst = appendField(dst, `,"method":`, h.Method)
	dst = appendField(dst, `,"path":`, h.Path)
	dst = appendField(dst, `,"query":`, h.Query)
	dst = appendField(dst, `,"protocol":`, h.Protocol)
	if h.Status != 0 {
		dst = append(dst, `,"status":`...)
		dst = strconv.AppendInt(dst, int64(h.Status), 10)
	}
	dst = append(dst, `,"bytes":`...)
	dst = strconv.AppendInt(dst, h.Bytes, 10)
	dst = appendField(dst, `,"referrer":`, h.Referrer)
	dst = appendField(dst, `,"userAgent":`, h.UserAgent)
	if h.RequestTime != 0 && !math.IsInf(h.RequestTime, 0) && !math.IsNaN(h.RequestTime) {
		dst = append(dst, `,"requestTime":`...)
		dst = appendFloat(dst, h.RequestTime)
	}
	dst = appendField(dst, `,"remoteAddr":`, h.RemoteAddr)
	dst = appendField(dst, `,"remoteUser":`, h.RemoteUser)
	dst[n] = ' ' // the first field's comma; whitespace is valid JSON
	return append(dst, '}')
}

// appendFloat appends the finite f as encoding/json writes it: without
// an exponent unless it is very large or very small.
func appendFloat(dst []byte, f float64) []byte {
	if abs := math.Abs(f); abs < 1e-6 || abs >= 1e21 {
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

// appendUint8 appends v in decimal.
func appendUint8(dst []byte, v uint8) []byte {
	switch {
	case v < 10:
		return append(dst, '0'+v)
	case v < 100:
		return append(dst, '0'+v/10, '0'+v%10)
	}
	return append(dst, digits3[3*int(v):3*int(v)+3]...)
}

// appendField appends key, such as `,"host":`, and value as a JSON
// string, if value is not empty. The key is one constant: one append.
func appendField(dst []byte, key, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, key...)
	return AppendString(dst, value)
}

const hex = "0123456789abcdef"

// safe[b] is true for ASCII bytes that need no escaping in a JSON string.
var safe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// AppendString appends s as a quoted JSON string. Invalid UTF-8 becomes
// U+FFFD, as with encoding/json.
func AppendString[S string | []byte](dst []byte, s S) []byte {
	// Most strings need no escaping: find the first byte that does, and
	// copy everything before it in one append.
	i := 0
	for i+8 <= len(s) && plain(load64(s, i)) {
		i += 8
	}
	for i < len(s) && s[i] < utf8.RuneSelf && safe[s[i]] {
		i++
	}
	dst = append(dst, '"')
	dst = append(dst, s[:i]...)
	if i == len(s) {
		return append(dst, '"')
	}
	return appendEscaped(dst, s, i)
}

// appendEscaped appends s[i:] escaped, and the closing quote; s[:i] was
// appended already.
func appendEscaped[S string | []byte](dst []byte, s S, i int) []byte {
	start := i
	for i < len(s) {
		// Skip eight bytes at a time while they are plain ASCII.
		for i+8 <= len(s) && plain(load64(s, i)) {
			i += 8
		}
		if i == len(s) {
			break
		}
		b := s[i]
		if b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// load64 reads s[i:i+8] as a little-endian word (the compiler makes it
// one load).
func load64[S string | []byte](s S, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plain reports whether none of the eight bytes of w needs escaping in a
// JSON string: none is a control character, '"', '\\' or non-ASCII. (A
// false "not plain" only sends the caller down the byte-by-byte path.)
//
// A byte below 0x80 minus a smaller one keeps its high bit clear, so once
// every byte is known to be ASCII (w&highs == 0), a high bit in w-0x20,
// (w^'"')-1 or (w^'\\')-1 means a byte below 0x20, a quote or a
// backslash; a borrow can only spread from such a byte.
func plain(w uint64) bool {
	q := w ^ '"'*ones
	bs := w ^ '\\'*ones
	return (w|(w-0x20*ones)|(q-ones)|(bs-ones))&highs == 0
}

func decodeRune[S string | []byte](s S) (rune, int) {
	switch s := any(s).(type) {
	case string:
		return utf8.DecodeRuneInString(s)
	case []byte:
		return utf8.DecodeRune(s)
	}
	return utf8.RuneError, 1
}

// appendSDValue appends an RFC 5424 PARAM-VALUE, whose \" \\ and \]
// escapes it resolves, as a JSON string.
func appendSDValue(dst []byte, v string) []byte {
	if !hasBackslash(v) {
		return AppendString(dst, v)
	}
	var buf [256]byte // rare: resolve the escapes on the stack when they fit
	u := appendUnescaped(buf[:0], v)
	return AppendString(dst, u)
}

func hasBackslash(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			return true
		}
	}
	return false
}
