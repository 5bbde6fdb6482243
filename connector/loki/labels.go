package loki

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/event"
)

// template is a label value: literal text and field references.
type template []part

// part is literal text, or the field it names when field is set.
type part struct {
	text  string
	field func(*event.Event) string
}

// fields are the placeholders a template may hold, named as in the
// event's JSON; {fields.NAME} is handled apart.
var fields = map[string]func(*event.Event) string{
	"source":          func(e *event.Event) string { return e.Source },
	"sourceType":      func(e *event.Event) string { return e.SourceType },
	"host":            func(e *event.Event) string { return e.Host },
	"contentType":     func(e *event.Event) string { return e.ContentType },
	"syslog.appName":  func(e *event.Event) string { return e.Syslog.AppName },
	"syslog.hostname": func(e *event.Event) string { return e.Syslog.Hostname },
	"syslog.procId":   func(e *event.Event) string { return e.Syslog.ProcID },
	"syslog.msgId":    func(e *event.Event) string { return e.Syslog.MsgID },
	"syslog.severity": func(e *event.Event) string {
		if !e.Syslog.Present {
			return ""
		}
		return strconv.Itoa(int(e.Syslog.Severity))
	},
	"syslog.facility": func(e *event.Event) string {
		if !e.Syslog.Present {
			return ""
		}
		return strconv.Itoa(int(e.Syslog.Facility))
	},
	"http.method": func(e *event.Event) string {
		if e.HTTP == nil {
			return ""
		}
		return e.HTTP.Method
	},
	"http.status": func(e *event.Event) string {
		if e.HTTP == nil || e.HTTP.Status == 0 {
			return ""
		}
		return strconv.Itoa(e.HTTP.Status)
	},
	"file.path": func(e *event.Event) string { return e.File.Path },
}

// parseTemplate parses a label value template: "{name}" is a field, "{{"
// a literal "{" and "}}" a literal "}".
func parseTemplate(s string) (template, error) {
	var t template
	var lit strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '{' && i+1 < len(s) && s[i+1] == '{', c == '}' && i+1 < len(s) && s[i+1] == '}':
			lit.WriteByte(c)
			i++
		case c == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unclosed { in %q", s)
			}
			name := s[i+1 : i+end]
			f, err := fieldFunc(name)
			if err != nil {
				return nil, fmt.Errorf("%w in %q", err, s)
			}
			if lit.Len() > 0 {
				t = append(t, part{text: lit.String()})
				lit.Reset()
			}
			t = append(t, part{field: f})
			i += end
		case c == '}':
			return nil, fmt.Errorf("unopened } in %q (write }} for a literal brace)", s)
		default:
			lit.WriteByte(c)
		}
	}
	if lit.Len() > 0 {
		t = append(t, part{text: lit.String()})
	}
	return t, nil
}

func fieldFunc(name string) (func(*event.Event) string, error) {
	if f, ok := fields[name]; ok {
		return f, nil
	}
	if n, ok := strings.CutPrefix(name, "fields."); ok && n != "" {
		return func(e *event.Event) string { v, _ := e.Field(n); return v }, nil
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range fields {
			if !yield(k) {
				return
			}
		}
	})
	return nil, fmt.Errorf("unknown field {%s} (want one of {%s} or {fields.NAME})", name, strings.Join(names, "}, {"))
}

// render appends t's value for e to dst.
func (t template) render(dst []byte, e *event.Event) []byte {
	for _, p := range t {
		if p.field != nil {
			dst = append(dst, p.field(e)...)
		} else {
			dst = append(dst, p.text...)
		}
	}
	return dst
}

// labeler makes the stream key of an event.
type labeler struct {
	names []string // sorted
	tmpls []template
	dyn   []int // indexes of the templates that name a field
}

func newLabeler(labels map[string]string) (*labeler, error) {
	l := &labeler{}
	for name := range labels {
		l.names = append(l.names, name)
	}
	slices.Sort(l.names)
	for _, name := range l.names {
		t, err := parseTemplate(labels[name])
		if err != nil {
			return nil, fmt.Errorf("labels.%s: %w", name, err)
		}
		l.tmpls = append(l.tmpls, t)
		if slices.ContainsFunc(t, func(p part) bool { return p.field != nil }) {
			l.dyn = append(l.dyn, len(l.tmpls)-1)
		}
	}
	return l, nil
}

// static reports whether every event has the same stream key.
func (l *labeler) static() bool { return len(l.dyn) == 0 }

// values appends to dst the values of e's templated labels, each after
// its length: events with the same values have the same key, for less
// than key costs (no quoting, no cutting).
func (l *labeler) values(dst []byte, e *event.Event) []byte {
	for _, i := range l.dyn {
		n := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		dst = l.tmpls[i].render(dst, e)
		binary.LittleEndian.PutUint32(dst[n:], uint32(len(dst)-n-4))
	}
	return dst
}

// maxLabelValue is Loki's default max_label_value_length: longer values
// are cut, so that the stream is not refused.
const maxLabelValue = 2048

// key appends e's stream selector to dst, as Loki writes it in its
// errors: {a="x", b="y"}, names sorted, values Go-quoted. Labels whose
// value is empty are left out; with none left it is {job="sluiced"}.
// tmp is a buffer for the values, kept for the next call.
func (l *labeler) key(dst []byte, tmp *[]byte, e *event.Event) []byte {
	start := len(dst)
	dst = append(dst, '{')
	n := 0
	for i, name := range l.names {
		v := l.tmpls[i].render((*tmp)[:0], e)
		*tmp = v
		if len(v) == 0 {
			continue
		}
		if len(v) > maxLabelValue {
			v = []byte(strings.ToValidUTF8(string(v[:maxLabelValue]), ""))
		}
		if n > 0 {
			dst = append(dst, ", "...)
		}
		n++
		dst = append(dst, name...)
		dst = append(dst, '=')
		dst = strconv.AppendQuote(dst, string(v))
	}
	if n == 0 {
		dst = append(dst[:start], `{job="sluiced"`...)
	}
	return append(dst, '}')
}

// parseSelector parses a stream selector as Loki writes it:
// {a="x", b="y"}.
func parseSelector(s string) (map[string]string, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, errors.New("not a selector")
	}
	s = s[1 : len(s)-1]
	m := map[string]string{}
	for len(strings.TrimSpace(s)) > 0 {
		s = strings.TrimLeft(s, " ,")
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return nil, errors.New("no =")
		}
		name := strings.TrimSpace(s[:eq])
		rest := s[eq+1:]
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return nil, err
		}
		v, _ := strconv.Unquote(q)
		m[name] = v
		s = rest[len(q):]
	}
	return m, nil
}
