// Package nginx parses nginx access log lines into an event's HTTP fields:
// the "nginx" handler.
//
// It reads the syslog message of the event (nginx's access_log
// syslog:server=... sends one line per request), or its raw bytes for
// events that are not syslog, and understands two formats:
//
//   - combined: $remote_addr - $remote_user [$time_local] "$request"
//     $status $body_bytes_sent "$http_referer" "$http_user_agent", with
//     anything after it (such as a trailing $request_time) ignored, except
//     that a final number with a decimal point is taken as request time;
//   - JSON, from a log_format with escape=json, using nginx's variable
//     names as keys: remote_addr, remote_user, time_local (or
//     time_iso8601), request (or request_method, request_uri and
//     server_protocol), status, body_bytes_sent (or bytes_sent),
//     http_referer, http_user_agent, request_time.
//
// The event's time (Event.Time) becomes the request's $time_local (or
// $time_iso8601), to the second as nginx writes it, rather than the time
// sluice received the line or the syslog header's. The request URI is
// split at its first "?": HTTP.Path is the path, HTTP.Query what follows
// the "?" (both as nginx logged them, not unescaped).
//
// A line in neither format, or whose time does not parse, passes
// unchanged and is counted.
package nginx

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// Handler sets the HTTP fields of events that hold nginx access log lines.
// It is safe for concurrent use.
type Handler struct {
	// unmatched is called for each event that is not an access log line.
	unmatched func()
}

// New returns a Handler; unmatched, if not nil, is called for each event
// whose line did not parse.
func New(unmatched func()) *Handler { return &Handler{unmatched: unmatched} }

// Handle returns msg with Value.HTTP set, or unchanged if its line is not
// an access log line. It never fails.
func (h *Handler) Handle(_ context.Context, msg sluice.Message[event.Event]) ([]sluice.Message[event.Event], error) {
	line := msg.Value.Syslog.Message
	if !msg.Value.Syslog.Present {
		line = string(msg.Value.Raw)
	}
	line = strings.TrimSpace(line)
	var r *event.HTTP
	var t time.Time
	if strings.HasPrefix(line, "{") {
		r, t = parseJSON(line)
	} else {
		r, t = parseCombined(line)
	}
	if r == nil {
		if h.unmatched != nil {
			h.unmatched()
		}
	} else {
		msg.Value.HTTP = r
		if !t.IsZero() { // a JSON format without a time keeps the event's
			msg.Value.Time = t
		}
	}
	return []sluice.Message[event.Event]{msg}, nil
}

// timeLocal is the layout of nginx's $time_local.
const timeLocal = "02/Jan/2006:15:04:05 -0700"

// parseCombined parses the combined format, or returns nil.
func parseCombined(s string) (*event.HTTP, time.Time) {
	var r event.HTTP
	var ok bool
	if r.RemoteAddr, s, ok = field(s, ' '); !ok || r.RemoteAddr == "" {
		return nil, time.Time{}
	}
	if _, s, ok = field(s, ' '); !ok { // ident, always "-"
		return nil, time.Time{}
	}
	if r.RemoteUser, s, ok = field(s, ' '); !ok {
		return nil, time.Time{}
	}
	if r.RemoteUser == "-" {
		r.RemoteUser = ""
	}
	if !strings.HasPrefix(s, "[") {
		return nil, time.Time{}
	}
	var local string
	if local, s, ok = field(s[1:], ']'); !ok {
		return nil, time.Time{}
	}
	t, err := time.Parse(timeLocal, local)
	if err != nil {
		return nil, time.Time{}
	}
	req, s, ok := quoted(strings.TrimPrefix(s, " "))
	if !ok {
		return nil, time.Time{}
	}
	r.Method, r.Path, r.Protocol = splitRequest(req)
	r.Path, r.Query, _ = strings.Cut(r.Path, "?")
	var status, bytes string
	if status, s, ok = field(strings.TrimPrefix(s, " "), ' '); !ok {
		return nil, time.Time{}
	}
	if r.Status, ok = atoi(status); !ok || r.Status < 100 || r.Status > 999 {
		return nil, time.Time{}
	}
	bytes, s, _ = field(s, ' ')
	n, ok := atoi(bytes)
	if !ok {
		return nil, time.Time{}
	}
	r.Bytes = int64(n)
	if r.Referrer, s, ok = quoted(s); !ok {
		return nil, time.Time{}
	}
	if r.Referrer == "-" {
		r.Referrer = ""
	}
	if r.UserAgent, s, ok = quoted(strings.TrimPrefix(s, " ")); !ok {
		return nil, time.Time{}
	}
	if r.UserAgent == "-" {
		r.UserAgent = ""
	}
	// An optional $request_time at the end, as in many custom formats.
	if rest := strings.Fields(s); len(rest) > 0 {
		last := rest[len(rest)-1]
		if strings.Contains(last, ".") {
			if f, err := strconv.ParseFloat(last, 64); err == nil && f >= 0 {
				r.RequestTime = f
			}
		}
	}
	return &r, t
}

// field returns s up to sep, and the rest after it; ok is false if sep is
// missing. At the end of s, the whole of s is the field.
func field(s string, sep byte) (f, rest string, ok bool) {
	i := strings.IndexByte(s, sep)
	if i < 0 {
		return s, "", s != ""
	}
	return s[:i], s[i+1:], true
}

// quoted parses a double-quoted string in which nginx escapes " and \ as
// \x22 and \x5C; it returns the content as it is, without unescaping.
func quoted(s string) (q, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", s, false
	}
	i := strings.IndexByte(s[1:], '"')
	if i < 0 {
		return "", s, false
	}
	return s[1 : i+1], s[i+2:], true
}

func splitRequest(req string) (method, path, proto string) {
	method, rest, _ := strings.Cut(req, " ")
	path, proto, _ = strings.Cut(rest, " ")
	return method, path, proto
}

func atoi(s string) (int, bool) {
	if s == "-" {
		return 0, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// jsonLine holds the nginx variables a JSON log_format may carry. Numbers
// may come as JSON numbers or strings, as nginx formats them as strings
// unless the format leaves them unquoted.
type jsonLine struct {
	RemoteAddr     string      `json:"remote_addr"`
	RemoteUser     string      `json:"remote_user"`
	TimeLocal      string      `json:"time_local"`
	TimeISO8601    string      `json:"time_iso8601"`
	Request        string      `json:"request"`
	RequestMethod  string      `json:"request_method"`
	RequestURI     string      `json:"request_uri"`
	ServerProtocol string      `json:"server_protocol"`
	Status         json.Number `json:"status"`
	BodyBytesSent  json.Number `json:"body_bytes_sent"`
	BytesSent      json.Number `json:"bytes_sent"`
	Referrer       string      `json:"http_referer"`
	UserAgent      string      `json:"http_user_agent"`
	RequestTime    json.Number `json:"request_time"`
}

// parseJSON parses a JSON log_format line, or returns nil.
func parseJSON(s string) (*event.HTTP, time.Time) {
	var j jsonLine
	if err := json.Unmarshal([]byte(s), &j); err != nil {
		return nil, time.Time{}
	}
	r := &event.HTTP{RemoteAddr: j.RemoteAddr, RemoteUser: j.RemoteUser, Referrer: j.Referrer, UserAgent: j.UserAgent}
	if j.Request != "" {
		r.Method, r.Path, r.Protocol = splitRequest(j.Request)
	} else {
		r.Method, r.Path, r.Protocol = j.RequestMethod, j.RequestURI, j.ServerProtocol
	}
	status, err := j.Status.Int64()
	if err != nil || r.Method == "" {
		return nil, time.Time{} // not an access log line
	}
	r.Status = int(status)
	r.Path, r.Query, _ = strings.Cut(r.Path, "?")
	var t time.Time
	switch {
	case j.TimeLocal != "":
		t, err = time.Parse(timeLocal, j.TimeLocal)
	case j.TimeISO8601 != "":
		t, err = time.Parse(time.RFC3339, j.TimeISO8601)
	}
	if err != nil {
		return nil, time.Time{}
	}
	bytes := j.BodyBytesSent
	if bytes == "" {
		bytes = j.BytesSent
	}
	r.Bytes, _ = bytes.Int64()
	r.RequestTime, _ = j.RequestTime.Float64()
	if r.RemoteUser == "-" {
		r.RemoteUser = ""
	}
	if r.Referrer == "-" {
		r.Referrer = ""
	}
	return r, t
}

var _ sluice.Handler[event.Event, event.Event] = (*Handler)(nil)
