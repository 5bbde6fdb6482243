// Package redaction is the logic of the redact example: it replaces every
// run of 12 or more ASCII digits (card and account numbers) with
// "[redacted]" in every string of an event, the raw line included, and
// drops lines that contain "DEBUG". The wasm guest in the folder above
// runs it; the wasm handler's benchmarks run it natively to compare.
package redaction

import (
	"bytes"
	"strings"

	"github.com/sluicehq/sluice/event"
)

// MinDigits is the shortest run of digits that is redacted.
const MinDigits = 12

// Mask replaces each run.
const Mask = "[redacted]"

// Event redacts e in place and reports whether to keep it: false for a
// line containing "DEBUG". It never changes memory e shares with other
// events: a changed HTTP or Fields is a new copy.
func Event(e *event.Event) (keep bool) {
	if bytes.Contains(e.Raw, []byte("DEBUG")) || strings.Contains(e.Syslog.Message, "DEBUG") {
		return false
	}
	if r, ok := redact(e.Raw); ok {
		e.Raw = r
	}
	for _, s := range []*string{&e.Source, &e.SourceType, &e.Host, &e.ContentType, &e.File.Path,
		&e.Syslog.Hostname, &e.Syslog.AppName, &e.Syslog.ProcID, &e.Syslog.MsgID, &e.Syslog.StructuredData, &e.Syslog.Message} {
		str(s)
	}
	if h := e.HTTP; h != nil {
		c := *h
		changed := false
		for _, s := range []*string{&c.Method, &c.Path, &c.Protocol, &c.Referrer, &c.UserAgent, &c.RemoteAddr, &c.RemoteUser} {
			changed = str(s) || changed
		}
		if changed {
			e.HTTP = &c
		}
	}
	var fields []event.Field
	for i, f := range e.Fields {
		n, nok := redactString(f.Name)
		v, vok := redactString(f.Value)
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

// str redacts *s and reports whether it changed.
func str(s *string) bool {
	r, ok := redactString(*s)
	if ok {
		*s = r
	}
	return ok
}

func redactString(s string) (string, bool) {
	if first(s) < 0 {
		return s, false
	}
	r, _ := redact([]byte(s))
	return string(r), true
}

// redact returns b with each long run of digits masked, and whether there
// was one; without one it returns b itself, allocating nothing.
func redact[S string | []byte](b S) ([]byte, bool) {
	start := first(b)
	if start < 0 {
		return []byte(b), false
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[:start]...)
	for i := start; i < len(b); {
		j := i
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		if j-i >= MinDigits {
			out = append(out, Mask...)
		} else {
			out = append(out, b[i:j]...)
		}
		if j == len(b) {
			break
		}
		k := j
		for k < len(b) && !isDigit(b[k]) {
			k++
		}
		out = append(out, b[j:k]...)
		i = k
	}
	return out, true
}

// first returns the index of the first run of MinDigits digits, or -1.
func first[S string | []byte](b S) int {
	run := 0
	for i := 0; i < len(b); i++ {
		if isDigit(b[i]) {
			run++
			if run == MinDigits {
				return i - MinDigits + 1
			}
		} else {
			run = 0
		}
	}
	return -1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
