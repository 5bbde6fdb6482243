package event

import (
	"encoding/base64"
	"unsafe"
)

// appendRaw appends raw as `,"raw":` and a JSON string when it is valid
// UTF-8, else as `,"rawBase64":` and its standard base64: one pass over
// raw in the usual case. The rawText says which part of raw needed
// escaping.
func appendRaw(dst, raw []byte) ([]byte, rawText) {
	n := len(dst)
	dst = append(dst, `,"raw":"`...)
	text := asString(raw)
	dst, sp, ok := appendEscaped(dst, text, next(text, 0), true)
	if !ok {
		dst = append(dst[:n], `,"rawBase64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, raw)
		return append(dst, '"'), rawText{}
	}
	return append(dst, '"'), rawText{base: uintptr(unsafe.Pointer(unsafe.SliceData(raw))), n: len(raw), span: sp}
}

// rawText is an event's raw bytes as written into its JSON. A parser's
// fields point into the raw bytes (see the package doc: neither may
// change once the event is built), so a field that lies outside the span
// that needed escaping needs no escaping either and is copied as it is, without a
// second scan. The zero rawText knows nothing: every string is escaped.
type rawText struct {
	base uintptr // the address of raw's first byte; 0 if raw was not written as a string
	n    int     // len(raw)
	span
}

// field appends key, such as `,"host":`, and value as a JSON string, if
// value is not empty.
func (r rawText) field(dst []byte, key, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, key...)
	return r.appendString(dst, value)
}

// appendString appends s as a quoted JSON string, as AppendString does.
func (r rawText) appendString(dst []byte, s string) []byte {
	if !r.plain(s) {
		return AppendString(dst, s)
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// plain reports whether s lies in raw, outside the span that needed
// escaping.
func (r rawText) plain(s string) bool {
	if r.base == 0 || s == "" {
		return false
	}
	off := uintptr(unsafe.Pointer(unsafe.StringData(s))) - r.base // wraps to a huge value below raw
	end := off + uintptr(len(s))
	return off < uintptr(r.n) && end <= uintptr(r.n) && (end <= uintptr(r.lo) || off >= uintptr(r.hi))
}
