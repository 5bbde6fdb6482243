package event

import (
	"fmt"
	"math"
	"strconv"
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
	var t Text
	return e.AppendJSONText(dst, o, &t)
}

// Text is where [Event.AppendJSONText] wrote an event's raw bytes: a
// string that lies in them (a parser's fields do) is then appended from
// their escaped text rather than escaped again. The zero Text escapes
// every string.
type Text struct{ r rawText }

// AppendString appends s as a quoted JSON string, as [AppendString] does,
// copying it from the raw text when it lies there. dst must be the buffer
// that [Event.AppendJSONText] set t on, extended.
func (t *Text) AppendString(dst []byte, s string) []byte { return t.r.appendString(dst, s) }

// AppendJSONText is [Event.AppendJSONWith] that also sets t for
// [Text.AppendString], for a caller that writes more of the event's
// strings after it.
func (e *Event) AppendJSONText(dst []byte, o JSONOptions, t *Text) []byte {
	dst = append(dst, `{"ts":"`...)
	dst = appendTime(dst, e.Timestamp())
	dst = append(dst, `","receivedAt":"`...)
	dst = appendTime(dst, e.ReceivedAt)
	dst = append(dst, '"')
	dst = appendField(dst, `,"source":`, e.Source)
	dst = appendField(dst, `,"sourceType":`, e.SourceType)
	dst = appendField(dst, `,"host":`, e.Host)
	dst = appendField(dst, `,"contentType":`, e.ContentType)
	r := &t.r
	if len(e.Raw) > 0 && !(o.OmitParsedRaw && e.Parsed()) {
		dst = r.appendRaw(dst, e.Raw)
	} else {
		*r = rawText{}
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
		dst = e.Syslog.appendJSON(dst, r)
	}
	if e.HTTP != nil {
		dst = e.HTTP.appendJSON(dst, r)
	}
	if len(e.Fields) > 0 {
		dst = append(dst, `,"fields":{`...)
		for i, f := range e.Fields {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = r.appendString(dst, f.Name)
			dst = append(dst, ':')
			dst = r.appendString(dst, f.Value)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func (s *Syslog) appendJSON(dst []byte, r *rawText) []byte {
	dst = append(dst, `,"syslog":{"facility":`...)
	dst = appendUint8(dst, s.Facility)
	dst = append(dst, `,"severity":`...)
	dst = appendUint8(dst, s.Severity)
	if s.Version != 0 {
		dst = append(dst, `,"version":`...)
		dst = appendUint8(dst, s.Version)
	}
	dst = r.field(dst, `,"hostname":`, s.Hostname)
	dst = r.field(dst, `,"appName":`, s.AppName)
	dst = r.field(dst, `,"procId":`, s.ProcID)
	dst = r.field(dst, `,"msgId":`, s.MsgID)
	if s.StructuredData != "" {
		dst = append(dst, `,"structuredData":{`...)
		dst = appendSD(dst, s.StructuredData)
		dst = append(dst, '}')
	}
	dst = r.field(dst, `,"message":`, s.Message)
	return append(dst, '}')
}

func (h *HTTP) appendJSON(dst []byte, r *rawText) []byte {
	dst = append(dst, `,"http":{`...)
	n := len(dst)
	dst = r.field(dst, `,"method":`, h.Method)
	dst = r.field(dst, `,"path":`, h.Path)
	dst = r.field(dst, `,"query":`, h.Query)
	dst = r.field(dst, `,"protocol":`, h.Protocol)
	if h.Status != 0 {
		dst = append(dst, `,"status":`...)
		dst = strconv.AppendInt(dst, int64(h.Status), 10)
	}
	dst = append(dst, `,"bytes":`...)
	dst = strconv.AppendInt(dst, h.Bytes, 10)
	dst = r.field(dst, `,"referrer":`, h.Referrer)
	dst = r.field(dst, `,"userAgent":`, h.UserAgent)
	if h.RequestTime != 0 && !math.IsInf(h.RequestTime, 0) && !math.IsNaN(h.RequestTime) {
		dst = append(dst, `,"requestTime":`...)
		dst = appendFloat(dst, h.RequestTime)
	}
	dst = r.field(dst, `,"remoteAddr":`, h.RemoteAddr)
	dst = r.field(dst, `,"remoteUser":`, h.RemoteUser)
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
// string, if value is not empty. The key is one constant: one append,
// of moves rather than a call to memmove where appendField is inlined
// (it calls appendString, not the generic AppendString, to stay within
// the inlining budget).
func appendField(dst []byte, key, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, key...)
	return appendString(dst, value)
}

// appendSDValue appends an RFC 5424 PARAM-VALUE, whose \" \\ and \]
// escapes it resolves, as a JSON string.
func appendSDValue(dst []byte, v string) []byte {
	if !hasBackslash(v) {
		return AppendString(dst, v)
	}
	var buf [256]byte // rare: resolve the escapes on the stack when they fit
	u := AppendUnescapedSD(buf[:0], v)
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
