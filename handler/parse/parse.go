// Package parse provides the "parse" handler: it parses a field of an
// event (its message by default) as JSON, logfmt, a regular expression,
// CSV, a CRI or Docker container log line, or syslog, and puts what it
// finds in the event's fields.
//
// A line that does not parse is counted and, by default, passed on
// unchanged; "onError" can drop it instead, or hand it to the route's
// dead-letter destination.
package parse

import (
	"context"
	"errors"
	"fmt"
	"github.com/sluicehq/sluice/daemon/config"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/internal/onerror"
	"github.com/sluicehq/sluice/internal/fieldpath"
)

// Config configures a parse handler.
type Config struct {
	// Format is json, logfmt, regex, csv, cri, docker or syslog. json
	// flattens nested objects into dotted names ("a.b"), keeps arrays as
	// JSON text and leaves out nulls; cri and docker set the event's time
	// and the fields stream and message (cri also logtag); syslog (RFC 5424
	// or 3164) sets the event's syslog part and time, not fields. Required.
	Format string `json:"format" sluice:"required"`
	// Field is the field to parse: message (the syslog message of a syslog
	// event, the raw line of any other), raw, host, source, sourceType,
	// contentType, file.path, syslog.hostname (appName, procId, msgId,
	// message, structuredData), http.path (method, protocol, status,
	// referrer, userAgent, remoteAddr, remoteUser) or fields.NAME (such as
	// fields.message, to parse what an earlier handler found). The "key"
	// and "fields" of sample, throttle and dedupe take the same paths.
	// Default message.
	Field string `json:"field"`
	// Target is where parsed values go: "fields", or "fields.PREFIX" to
	// name each field PREFIX.NAME. A parsed field replaces one of the same
	// name. Default fields.
	Target string `json:"target"`
	// Pattern is the regular expression of the regex format (Go RE2
	// syntax); each named group, such as (?P<user>\w+), becomes a field.
	// Required for regex.
	Pattern string `json:"pattern"`
	// Columns names the values of the csv format, in order; a line must
	// have exactly one value per column. Required for csv.
	Columns []string `json:"columns"`
	// Delimiter separates csv values: one character. Default ",".
	Delimiter string `json:"delimiter"`
	// OnError is what happens to an event whose field does not parse (or is
	// missing): keep (pass it on unchanged), drop, or deadLetter (hand it
	// to the route's deadLetter destination). It is counted either way.
	// Default keep.
	OnError string `json:"onError"`
}

// Defaults returns a Config with the defaults filled in.
func Defaults() *Config {
	return &Config{Field: "message", Target: "fields", Delimiter: ",", OnError: "keep"}
}

// Handler parses events. It is safe for concurrent use.
type Handler struct {
	get    fieldpath.Getter
	parse  format
	prefix string
	policy onerror.Policy
	hooks  onerror.Hooks
}

// New checks c and returns a handler that reports failures to hooks. An
// error names the setting that is wrong and what was expected.
func New(c *Config, hooks onerror.Hooks) (*Handler, error) {
	h := &Handler{hooks: hooks}
	var errs []error
	fail := func(field, msg string, args ...any) {
		errs = append(errs, &config.FieldError{Path: field, Msg: fmt.Sprintf(msg, args...)})
	}
	var err error
	if h.get, err = fieldpath.Compile(c.Field); err != nil {
		fail("field", "%v", err)
	}
	if h.policy, err = onerror.Parse(c.OnError); err != nil {
		fail("onError", "%v", err)
	}
	switch prefix, ok := strings.CutPrefix(c.Target, "fields"); {
	case !ok || (prefix != "" && (len(prefix) < 2 || prefix[0] != '.')):
		fail("target", `want "fields" or "fields.PREFIX", got %q`, c.Target)
	case prefix != "":
		h.prefix = prefix[1:] + "."
	}
	if c.Format != "regex" && c.Pattern != "" {
		fail("pattern", "only for format regex")
	}
	if c.Format != "csv" && c.Columns != nil {
		fail("columns", "only for format csv")
	}
	switch c.Format {
	case "json":
		h.parse = jsonFormat
	case "logfmt":
		h.parse = logfmt
	case "cri":
		h.parse = cri
	case "docker":
		h.parse = docker
	case "syslog":
		h.parse = syslogFormat
		if c.Target != "fields" {
			fail("target", "format syslog sets the event's syslog part, not fields: leave target out")
		}
	case "regex":
		re, err := regexp.Compile(c.Pattern)
		switch {
		case c.Pattern == "":
			fail("pattern", "required for format regex")
		case err != nil:
			fail("pattern", "%v", err)
		case !hasNamedGroup(re):
			fail("pattern", "no named group, such as (?P<name>...): nothing would be parsed")
		default:
			h.parse = regexFormat(re)
		}
	case "csv":
		d, n := utf8.DecodeRuneInString(c.Delimiter)
		switch {
		case len(c.Columns) == 0:
			fail("columns", "required for format csv: the names of the values")
		case n == 0 || n != len(c.Delimiter) || d == '"' || d == '\r' || d == '\n' || d == utf8.RuneError:
			fail("delimiter", "want one character other than a quote or a newline, got %q", c.Delimiter)
		default:
			for i, col := range c.Columns {
				if col == "" {
					fail(fmt.Sprintf("columns[%d]", i), "empty name")
				}
			}
			h.parse = csvFormat(c.Columns, d)
		}
	default:
		fail("format", "want json, logfmt, regex, csv, cri, docker or syslog, got %q", c.Format)
	}
	if errs != nil {
		return nil, errors.Join(errs...)
	}
	return h, nil
}

func hasNamedGroup(re *regexp.Regexp) bool {
	for _, n := range re.SubexpNames() {
		if n != "" {
			return true
		}
	}
	return false
}

// Handle parses msg's field into a copy of its fields and returns it. An
// event whose field is missing or does not parse is handled by the
// onError policy and reported to the hooks. It never returns an error and
// never acks.
func (h *Handler) Handle(_ context.Context, msg sluice.Message[event.Event]) ([]sluice.Message[event.Event], error) {
	out := []sluice.Message[event.Event]{msg} // the one allocation of msg
	if err := h.Parse(&out[0].Value); err != nil {
		return h.policy.Apply(&h.hooks, msg, err), nil
	}
	return out, nil
}

// Parse parses e's field into e, or returns why it cannot and leaves e
// unchanged. It never modifies memory e shares with other copies: the new
// fields go into a new slice.
func (h *Handler) Parse(e *event.Event) error {
	s, ok := h.get(e)
	if !ok {
		return errors.New("parse: the field is missing or empty")
	}
	old := e.Fields
	out := make([]event.Field, len(old), len(old)+16)
	copy(out, old)
	out, err := h.parse(out, s, h.prefix, e) // changes e only if it succeeds
	if err != nil {
		return err
	}
	if e.Fields = setFields(out, len(old)); len(e.Fields) == 0 {
		e.Fields = nil
	}
	return nil
}

// setFields makes the names of fs unique, in place: a field at from or
// after replaces the value of an earlier field of the same name, which
// keeps its place.
func setFields(fs []event.Field, from int) []event.Field {
	if len(fs) <= 32 {
		out := fs[:from]
	next:
		for _, f := range fs[from:] {
			for j := range out {
				if out[j].Name == f.Name {
					out[j].Value = f.Value
					continue next
				}
			}
			out = append(out, f)
		}
		return out
	}
	at := make(map[string]int, len(fs))
	for i, f := range fs[:from] {
		at[f.Name] = i
	}
	out := fs[:from]
	for _, f := range fs[from:] {
		if j, ok := at[f.Name]; ok {
			out[j].Value = f.Value
			continue
		}
		at[f.Name] = len(out)
		out = append(out, f)
	}
	return out
}

var _ sluice.Handler[event.Event, event.Event] = (*Handler)(nil)
