// Package redaction is the logic of the redact example: it replaces every
// run of 12 or more ASCII digits (card and account numbers) with
// "[redacted]" in every string of an event, the raw line included, and
// drops lines that contain "DEBUG". The wasm guest in the folder above
// runs it; the wasm handler's benchmarks run it natively to compare.
package redaction

import (
	"bytes"
	"strings"
	"unsafe"

	"github.com/sluicehq/sluice/event"
)

// MinDigits is the shortest run of digits that is redacted.
const MinDigits = 12

// Mask replaces each run.
const Mask = "[redacted]"

// Event redacts e in place and reports whether to keep it: false for a
// line containing "DEBUG". It never changes memory e shares with other
// events: a changed string, HTTP or Fields is a new copy.
func Event(e *event.Event) (keep bool) {
	var r Redactor
	return r.Event(e)
}

// Redactor redacts events as Event does. Its zero value allocates a new
// copy of each string it changes, for events that live on (a native
// handler's). With Reuse, it writes them into a buffer that it reuses
// from event to event, so a redacted event is valid only until the next
// call: for a wasm guest, whose Emit copies the event.
type Redactor struct {
	Reuse bool
	buf   []byte
}

// Event redacts e in place and reports whether to keep it.
func (r *Redactor) Event(e *event.Event) (keep bool) {
	if bytes.Contains(e.Raw, []byte("DEBUG")) || strings.Contains(e.Syslog.Message, "DEBUG") {
		return false
	}
	if r.Reuse {
		r.buf = r.buf[:0]
	} else {
		r.buf = nil
	}
	var b []byte
	var ok bool
	if r.buf, b, ok = redact(r.buf, e.Raw, r.Reuse); ok {
		e.Raw = b
	}
	for _, s := range []*string{&e.Source, &e.SourceType, &e.Host, &e.ContentType, &e.File.Path,
		&e.Syslog.Hostname, &e.Syslog.AppName, &e.Syslog.ProcID, &e.Syslog.MsgID, &e.Syslog.StructuredData, &e.Syslog.Message} {
		if len(*s) >= MinDigits {
			r.str(s)
		}
	}
	if h := e.HTTP; h != nil {
		c := *h
		changed := false
		for _, s := range []*string{&c.Method, &c.Path, &c.Protocol, &c.Referrer, &c.UserAgent, &c.RemoteAddr, &c.RemoteUser} {
			changed = len(*s) >= MinDigits && r.str(s) || changed
		}
		if changed {
			e.HTTP = &c
		}
	}
	var fields []event.Field
	for i, f := range e.Fields {
		n, nok := r.redactString(f.Name)
		v, vok := r.redactString(f.Value)
		if !nok && !vok {
			continue
		}
		if fields == nil {
			fields = append([]event.Field(nil), e.Fields...)
		}
		fields[i] = event.Field{Name: n, Value: v}
	}
	if fields != nil {
		e.Fields = fields
	}
	return true
}

// str redacts *s and reports whether it changed. The callers skip
// strings too short to hold a run (most are) without calling it.
func (r *Redactor) str(s *string) bool {
	v, ok := r.redactString(*s)
	if ok {
		*s = v
	}
	return ok
}

func (r *Redactor) redactString(s string) (string, bool) {
	var b []byte
	var ok bool
	if r.buf, b, ok = redact(r.buf, s, r.Reuse); !ok {
		return s, false
	}
	// b is never written again (until the next event, with Reuse): the
	// string may share it.
	return unsafe.String(unsafe.SliceData(b), len(b)), true
}

// redact appends b to buf with each long run of digits masked, and
// returns buf, what it appended, and whether b had a run; without one it
// returns buf as it was. If buf lacks room it appends to a new array
// (strings already made keep the old one), larger if it is to be reused.
func redact[S string | []byte](buf []byte, b S, reuse bool) (all, out []byte, ok bool) {
	start := first(b)
	if start < 0 {
		return buf, nil, false
	}
	if cap(buf)-len(buf) < len(b) { // a mask is shorter than its run
		n := len(b) // for this string alone, or to be reused
		if reuse {
			n = max(n, 2*cap(buf))
		}
		buf = make([]byte, 0, n)
	}
	at := len(buf)
	for start >= 0 {
		end := start + MinDigits
		for end < len(b) && isDigit(b[end]) {
			end++
		}
		buf = append(buf, b[:start]...)
		buf = append(buf, Mask...)
		b = b[end:]
		start = first(b)
	}
	buf = append(buf, b...)
	return buf, buf[at:len(buf):len(buf)], true
}

// first returns the index of the first run of MinDigits digits, or -1.
// Such a run covers one of every MinDigits bytes, so it looks at those
// first, and around them only when they are digits: most text is read a
// byte in MinDigits.
func first[S string | []byte](b S) int {
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

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
