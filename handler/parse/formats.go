package parse

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unsafe"

	syslogparse "github.com/sluicehq/sluice/connector/syslog/parse"
	"github.com/sluicehq/sluice/event"
)

// A format parses s, appending the fields it finds to out, each named
// prefix+name. It may set other parts of e (its time, its syslog part),
// but only once it has succeeded.
type format func(out []event.Field, s, prefix string, e *event.Event) ([]event.Field, error)

func jsonFormat(out []event.Field, s, prefix string, _ *event.Event) ([]event.Field, error) {
	return parseJSON(out, s, prefix)
}

// logfmt parses key=value pairs separated by spaces, as written by
// go-kit/log, logrus and Heroku: a value may be double-quoted with Go
// escapes, a key without "=" has the value "true". A line with no
// key=value pair at all does not parse (it is prose, not logfmt).
func logfmt(out []event.Field, s, prefix string, _ *event.Event) ([]event.Field, error) {
	pairs := 0
	start := len(out)
	s = strings.TrimRight(s, "\r\n")
	for i := 0; ; {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i == len(s) {
			break
		}
		k := i
		for i < len(s) && s[i] > ' ' && s[i] != '=' && s[i] != '"' {
			i++
		}
		if i == k {
			return out[:start], fmt.Errorf("logfmt: offset %d: want a key", i)
		}
		key := prefix + s[k:i]
		if i == len(s) || s[i] != '=' {
			if i < len(s) && s[i] == '"' {
				return out[:start], fmt.Errorf("logfmt: offset %d: quote in a key", i)
			}
			out = append(out, event.Field{Name: key, Value: "true"})
			continue
		}
		i++ // '='
		pairs++
		if i < len(s) && s[i] == '"' {
			j, esc := i+1, false
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' {
					esc = true
					j++
				}
			}
			if j >= len(s) {
				return out[:start], fmt.Errorf("logfmt: offset %d: unterminated quoted value", i)
			}
			v := s[i+1 : j]
			if esc {
				var err error
				if v, err = strconv.Unquote(s[i : j+1]); err != nil {
					return out[:start], fmt.Errorf("logfmt: offset %d: %w", i, err)
				}
			}
			out = append(out, event.Field{Name: key, Value: v})
			i = j + 1
			if i < len(s) && s[i] != ' ' && s[i] != '\t' {
				return out[:start], fmt.Errorf("logfmt: offset %d: want a space after a quoted value", i)
			}
			continue
		}
		v := i
		for i < len(s) && s[i] != ' ' && s[i] != '\t' {
			if s[i] == '"' {
				return out[:start], fmt.Errorf("logfmt: offset %d: quote in an unquoted value", i)
			}
			i++
		}
		out = append(out, event.Field{Name: key, Value: s[v:i]})
	}
	if pairs == 0 {
		return out[:start], errors.New("logfmt: no key=value pair")
	}
	return out, nil
}

// regexFormat returns a format whose fields are re's named groups; a group
// that took no part in the match is left out.
func regexFormat(re *regexp.Regexp) format {
	names := re.SubexpNames()
	return func(out []event.Field, s, prefix string, _ *event.Event) ([]event.Field, error) {
		m := re.FindStringSubmatchIndex(s)
		if m == nil {
			return out, errors.New("regex: no match")
		}
		for i, n := range names {
			if n != "" && m[2*i] >= 0 {
				out = append(out, event.Field{Name: prefix + n, Value: s[m[2*i]:m[2*i+1]]})
			}
		}
		return out, nil
	}
}

// csvFormat returns a format that reads one CSV record (RFC 4180, with
// delim between values) holding exactly one value per column.
func csvFormat(columns []string, delim rune) format {
	return func(out []event.Field, s, prefix string, _ *event.Event) ([]event.Field, error) {
		r := csv.NewReader(strings.NewReader(s))
		r.Comma, r.FieldsPerRecord, r.ReuseRecord = delim, -1, true
		rec, err := r.Read()
		if err == io.EOF {
			return out, errors.New("csv: empty line")
		}
		if err != nil {
			return out, fmt.Errorf("csv: %w", err)
		}
		if len(rec) != len(columns) {
			return out, fmt.Errorf("csv: %d values, want %d (one per column)", len(rec), len(columns))
		}
		for i, v := range rec {
			out = append(out, event.Field{Name: prefix + columns[i], Value: v})
		}
		if _, err := r.Read(); err != io.EOF {
			return out[:len(out)-len(rec)], errors.New("csv: more than one record")
		}
		return out, nil
	}
}

// cri parses a line of the CRI log format that container runtimes write
// under /var/log/pods: "TIME STREAM TAG MESSAGE", such as
// "2024-01-02T03:04:05.123456789Z stdout F hello". The time becomes the
// event's; stream, logtag ("F" for a full line, "P" for a partial one,
// which is not joined to the next) and message become fields.
func cri(out []event.Field, s, prefix string, e *event.Event) ([]event.Field, error) {
	s = strings.TrimRight(s, "\n")
	ts, rest, ok := strings.Cut(s, " ")
	if !ok {
		return out, errors.New("cri: want TIME STREAM TAG MESSAGE")
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return out, fmt.Errorf("cri: time: %w", err)
	}
	stream, rest, ok := strings.Cut(rest, " ")
	if !ok || (stream != "stdout" && stream != "stderr") {
		return out, errors.New("cri: stream: want stdout or stderr")
	}
	tag, msg, ok := strings.Cut(rest, " ")
	if !ok && tag != "" {
		ok = true // "... F" with an empty message
	}
	if !ok || tag == "" {
		return out, errors.New("cri: want a tag after the stream")
	}
	setTime(e, t)
	return append(out, event.Field{Name: prefix + "stream", Value: stream}, event.Field{Name: prefix + "logtag", Value: tag},
		event.Field{Name: prefix + "message", Value: msg}), nil
}

// docker parses a line of Docker's json-file log driver:
// {"log":"hello\n","stream":"stdout","time":"2024-01-02T03:04:05.1Z"}.
// The time becomes the event's, log (less its final newline) the field
// message, and every other member (stream, attrs.*) a field.
func docker(out []event.Field, s, prefix string, e *event.Event) ([]event.Field, error) {
	start := len(out)
	out, err := parseJSON(out, s, "")
	if err != nil {
		return out[:start], fmt.Errorf("docker: %w", err)
	}
	var t time.Time
	var hasLog, hasTime bool
	kept := out[:start]
	for _, f := range out[start:] {
		switch f.Name {
		case "log":
			hasLog = true
			kept = append(kept, event.Field{Name: prefix + "message", Value: strings.TrimSuffix(f.Value, "\n")})
		case "time":
			if t, err = time.Parse(time.RFC3339Nano, f.Value); err != nil {
				return out[:start], fmt.Errorf("docker: time: %w", err)
			}
			hasTime = true
		default:
			f.Name = prefix + f.Name
			kept = append(kept, f)
		}
	}
	if !hasLog || !hasTime {
		return out[:start], errors.New(`docker: want "log" and "time" members`)
	}
	setTime(e, t)
	return kept, nil
}

// syslogFormat parses RFC 5424 or RFC 3164 (detected per line) into the
// event's syslog part and time, as the syslog source does; it adds no
// fields. now is the receipt time, for RFC 3164 times without a year.
func syslogFormat(out []event.Field, s, _ string, e *event.Event) ([]event.Field, error) {
	m, err := syslogparse.Parse(unsafe.Slice(unsafe.StringData(s), len(s)), syslogparse.Auto, e.ReceivedAt, nil)
	if err != nil {
		return out, err
	}
	str := func(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
	e.Syslog = event.Syslog{Present: true, Facility: m.Facility, Severity: m.Severity, Version: m.Version,
		Hostname: str(m.Hostname), AppName: str(m.AppName), ProcID: str(m.ProcID), MsgID: str(m.MsgID),
		StructuredData: str(m.StructuredData), Message: str(m.Msg)}
	if !m.Timestamp.IsZero() {
		setTime(e, m.Timestamp)
	}
	return out, nil
}

func setTime(e *event.Event, t time.Time) {
	e.Time = t
	e.Flags &^= event.NoTime
}
