// Package event defines Event, the record that flows through the sluiced
// daemon, and its JSON encoding: one object per line (NDJSON), as written by
// the file, stdout, S3 and HTTP destinations.
//
// The encoding is stable; fields are only ever added:
//
//	{
//	  "ts":         event time, RFC 3339 with nanoseconds (receipt time if the event has none)
//	  "receivedAt": receipt time, RFC 3339 with nanoseconds
//	  "source":     the source's name in the config
//	  "sourceType": the source's type ("syslog", "file", ...)
//	  "host":       sender address or hostname, if known
//	  "contentType": the source's configured content type, if any
//	  "raw":        the original bytes as a string, when they are valid UTF-8
//	  "rawBase64":  otherwise, the original bytes in standard base64
//	  "flags":      ["parseError", "truncated", ...], when any is set
//	  "file":       {"path", "offset"} for events read from a file
//	  "syslog":     {"facility", "severity", "version", "hostname", "appName",
//	                 "procId", "msgId", "structuredData": {SD-ID: {param: value}},
//	                 "message"} for syslog events
//	  "http":       {"method", "path", "query", "protocol", "status", "bytes",
//	                 "referrer", "userAgent", "requestTime", "remoteAddr",
//	                 "remoteUser"}
//	                 set by the nginx handler ("requestTime" only when it
//	                 is a finite number: JSON has no NaN or infinity)
//	  "fields":     {name: value} of any other fields (journald, for example)
//	}
//
// Empty fields are omitted, and so are "raw" and "rawBase64" of a parsed
// event when it is encoded with [JSONOptions.OmitParsedRaw] (a
// destination's "jsonRaw": "unparsed"). Event is a value type: a handler that changes an
// event changes its own copy. Raw, and every string that points into it, must
// not be modified once the event is built; sources may share one buffer
// between many events. The encoding relies on it: a field that points
// into Raw, where Raw's encoding found nothing to escape, is copied
// without a second look.
package event

import "time"

// Event is one log record.
type Event struct {
	// Time is the event's own time; zero if it has none, and then the
	// encoding uses ReceivedAt.
	Time time.Time
	// ReceivedAt is when sluice received the event.
	ReceivedAt time.Time
	// Source is the name of the source in the config.
	Source string
	// SourceType is the type of that source, such as "syslog".
	SourceType string
	// Host is the sender's address or hostname, if known.
	Host string
	// ContentType names the kind of log for destinations that route by it,
	// such as RunReveal's webhook; sources set it from their config.
	ContentType string
	// Raw holds the original bytes, unmodified.
	Raw []byte
	// Flags says what went wrong or was changed while reading the event.
	Flags Flags
	// File is set for events read from a file.
	File File
	// Syslog is set for syslog events (Syslog.Present reports it).
	Syslog Syslog
	// HTTP is set by handlers that parse access logs.
	HTTP *HTTP
	// Fields holds other named fields, in order, for sources that have
	// them, such as journald.
	Fields []Field
}

// Flags is a set of conditions met while reading an event.
type Flags uint16

const (
	// ParseError: the event did not parse; Raw and ReceivedAt are set.
	ParseError Flags = 1 << iota
	// Truncated: the event was longer than the limit and was cut.
	Truncated
	// Split: the line was longer than the limit and continues in the next
	// event.
	Split
	// NoTime: the event carried no usable time of its own.
	NoTime
)

var flagNames = [...]string{"parseError", "truncated", "split", "noTime"}

// Has reports whether every flag in g is set.
func (f Flags) Has(g Flags) bool { return f&g == g }

// Names returns the names of the flags that are set, in a fixed order.
func (f Flags) Names() []string {
	var names []string
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return names
}

// File locates an event in the file it was read from.
type File struct {
	Path   string
	Offset int64
}

// Syslog holds the parts of a syslog message (RFC 5424 or RFC 3164).
// Absent parts are empty; the RFC 5424 nil value "-" is stored as empty.
type Syslog struct {
	// Present reports that the event was parsed as syslog.
	Present  bool
	Facility uint8
	Severity uint8
	// Version is 1 for RFC 5424 and 0 for RFC 3164.
	Version  uint8
	Hostname string
	AppName  string
	ProcID   string
	MsgID    string
	// StructuredData is the STRUCTURED-DATA part as it appeared in the
	// message, such as `[id@1 a="1"][id@2]`; empty if nil. Params iterates
	// over it.
	StructuredData string
	Message        string
}

// HTTP holds the fields of an HTTP access log line.
type HTTP struct {
	Method string
	// Path is the request's path, without its query string.
	Path string
	// Query is the query string after the "?", without it; "" if none.
	Query       string
	Protocol    string
	Status      int
	Bytes       int64
	Referrer    string
	UserAgent   string
	RequestTime float64 // seconds
	RemoteAddr  string
	RemoteUser  string
}

// Field is a named value of [Event.Fields].
type Field struct {
	Name  string
	Value string
}

// Parsed reports whether e's fields were parsed from its raw bytes: it
// carries syslog or HTTP fields and no [ParseError] flag.
func (e *Event) Parsed() bool {
	return (e.Syslog.Present || e.HTTP != nil) && e.Flags&ParseError == 0
}

// Timestamp returns Time, or ReceivedAt if Time is zero.
func (e *Event) Timestamp() time.Time {
	if e.Time.IsZero() {
		return e.ReceivedAt
	}
	return e.Time
}

// Field returns the value of the named field and whether it is present.
func (e *Event) Field(name string) (string, bool) {
	for _, f := range e.Fields {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}
