// Package redaction is the logic of the redact example: it replaces every
// run of 12 or more ASCII digits (card and account numbers) with
// "[redacted]" in every string of an event, the raw line included, and
// drops lines that contain "DEBUG". The wasm guest in the folder above
// runs it; the wasm handler's benchmarks run it natively to compare.
package redaction

import (
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
	if Drop(bstr(e.Raw), e.Syslog.Message) {
		return false
	}
	if r.Reuse {
		r.buf = r.buf[:0]
	} else {
		r.buf = nil
	}
	if len(e.Raw) >= MinDigits {
		if s, ok := r.redactString(bstr(e.Raw)); ok {
			e.Raw = bytesOf(s)
		}
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
		for _, s := range []*string{&c.Method, &c.Path, &c.Query, &c.Protocol, &c.Referrer, &c.UserAgent, &c.RemoteAddr, &c.RemoteUser} {
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

// redactString returns s redacted, and whether it changed. Without
// Reuse the result has an array of its own; with it, the result is
// appended to r.buf, in a new array if r.buf is full, so that strings
// made earlier keep theirs. Either way those bytes are never written
// again (until the next event, with Reuse): the string may share them.
func (r *Redactor) redactString(s string) (string, bool) {
	start, _ := Run(s)
	if start < 0 {
		return s, false
	}
	if cap(r.buf)-len(r.buf) < len(s) { // a mask is shorter than its run
		n := len(s) // for this string alone, or to be reused
		if r.Reuse {
			n = max(n, 2*cap(r.buf))
		}
		r.buf = make([]byte, 0, n)
	}
	at := len(r.buf)
	r.buf = AppendFrom(r.buf, s, start)
	b := r.buf[at:]
	return unsafe.String(unsafe.SliceData(b), len(b)), true
}

// within reports whether s lies in the memory of t.
func within(s, t string) bool {
	p, q := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(t)))
	return len(s) > 0 && p >= q && p+uintptr(len(s)) <= q+uintptr(len(t))
}

func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
