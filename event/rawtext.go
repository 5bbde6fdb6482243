package event

import (
	"encoding/base64"
	"unsafe"
)

// rawText is an event's raw bytes as written into its JSON. A parser's
// fields point into the raw bytes (see the package doc: neither may
// change once the event is built), so a field that lies in them is
// copied from raw's escaped text, without a second scan, when it starts
// and ends outside the span of raw that needed escaping: before the span,
// and after it, raw and its escaped text are the same bytes. Header
// fields lie before the span; an nginx line's message, which holds its
// quotes, holds all of it. The zero rawText knows nothing: every string
// is escaped. A rawText is used with the buffer it wrote raw into,
// extended.
type rawText struct {
	raw      string // the raw bytes; "" if they were not written as a string
	out, end int    // where raw's escaped text starts and ends in the buffer
	span
}

// appendRaw appends raw as `,"raw":` and a JSON string when it is valid
// UTF-8, else as `,"rawBase64":` and its standard base64: one pass over
// raw in the usual case.
func (r *rawText) appendRaw(dst, raw []byte) []byte {
	n := len(dst)
	dst = append(dst, `,"raw":"`...)
	text := asString(raw)
	out := len(dst)
	dst, sp, ok := appendEscaped(dst, text, next(text, 0), true)
	if !ok {
		*r = rawText{}
		dst = append(dst[:n], `,"rawBase64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, raw)
		return append(dst, '"')
	}
	// Field by field: r may be a caller's (see Text), and a whole
	// struct stored through a pointer is a call to memmove.
	r.raw, r.out, r.end, r.span = text, out, len(dst), sp
	return append(dst, '"')
}

// field appends key, such as `,"host":`, and value as a JSON string, if
// value is not empty.
func (r *rawText) field(dst []byte, key, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, key...)
	return r.appendString(dst, value)
}

// appendString appends s as a quoted JSON string, as AppendString does.
func (r *rawText) appendString(dst []byte, s string) []byte {
	if r.raw == "" { // raw was not written (jsonRaw unparsed): escape s
		return appendString(dst, s)
	}
	off, ok := r.offset(s)
	end := off + len(s)
	switch {
	case !ok:
	case end <= r.lo || off >= r.hi: // nothing in s needed escaping
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	case off <= r.lo && end >= r.hi: // s holds all that did
		dst = append(dst, '"')
		dst = append(dst, dst[r.out+off:r.end-(len(r.raw)-end)]...)
		return append(dst, '"')
	}
	return AppendString(dst, s)
}

// offset returns where s starts in raw, if s lies in raw.
func (r *rawText) offset(s string) (int, bool) {
	if r.raw == "" || s == "" {
		return 0, false
	}
	off := uintptr(unsafe.Pointer(unsafe.StringData(s))) - uintptr(unsafe.Pointer(unsafe.StringData(r.raw))) // wraps to a huge value below raw
	return int(off), off < uintptr(len(r.raw)) && off+uintptr(len(s)) <= uintptr(len(r.raw))
}
