package parse

import (
	"strconv"
	"time"
)

// Format is a syslog message format.
type Format uint8

const (
	// Auto detects the format of each message: RFC 5424 if it starts with
	// "<PRI>1 ", RFC 3164 otherwise. A message detected as RFC 5424 that
	// then fails to parse is an error; it is not retried as RFC 3164.
	Auto Format = iota
	// RFC5424 is the syslog protocol of RFC 5424.
	RFC5424
	// RFC3164 is BSD syslog as described by RFC 3164, with the variations
	// real senders use.
	RFC3164
)

// String returns "auto", "rfc5424" or "rfc3164".
func (f Format) String() string {
	switch f {
	case Auto:
		return "auto"
	case RFC5424:
		return "rfc5424"
	case RFC3164:
		return "rfc3164"
	}
	return "format(" + strconv.Itoa(int(f)) + ")"
}

// Message is a parsed syslog message. Its byte slices are sub-slices of the
// input given to [Parse]; they are nil when the part is absent or is the
// RFC 5424 NILVALUE "-".
type Message struct {
	// Format is RFC5424 or RFC3164, never Auto.
	Format Format
	// Facility and Severity come from PRI. An RFC 3164 message without a
	// PRI gets facility 1 (user) and severity 5 (notice), as RFC 3164
	// section 4.3.3 says.
	Facility, Severity uint8
	// Version is 1 for RFC 5424 and 0 for RFC 3164.
	Version uint8
	// Timestamp is the message's own time. It is zero when the message has
	// none: the RFC 5424 NILVALUE, or an RFC 3164 message whose header has
	// no recognisable timestamp (the caller should then flag the event
	// [github.com/sluicehq/sluice/event.NoTime]). RFC 5424 timestamps carry
	// the sender's offset (UTC for Z and +00:00); RFC 3164 timestamps are in
	// the location given to Parse.
	Timestamp time.Time
	// Hostname, AppName, ProcID and MsgID are the header fields. For
	// RFC 3164, AppName and ProcID come from the TAG ("app[pid]:") and MsgID
	// is always nil.
	Hostname, AppName, ProcID, MsgID []byte
	// StructuredData is the whole RFC 5424 STRUCTURED-DATA text, such as
	// `[id@1 a="1"][x]`, with escapes unresolved; nil for "-" and for
	// RFC 3164. [github.com/sluicehq/sluice/event.Syslog.Elements] iterates
	// over it.
	StructuredData []byte
	// Msg is the free-form message: for RFC 5424 what follows the SP after
	// STRUCTURED-DATA, without a leading UTF-8 BOM; for RFC 3164 what
	// follows the TAG's ": ", or the header if there is no tag, or the PRI
	// if there is no header. Nil when empty.
	Msg []byte
}

// ParseError describes why a message did not parse.
type ParseError struct {
	// Format is the format the message was being parsed as; Auto if the
	// error came before the format was known (an invalid PRI).
	Format Format
	// Offset is the index in the input of the byte at which parsing failed
	// (the length of the input if it ended too early).
	Offset int
	// Reason says what was wrong, such as "invalid timestamp".
	Reason string
}

// Error returns a message such as "syslog: rfc5424: offset 17: invalid
// timestamp".
func (e *ParseError) Error() string {
	s := "syslog: "
	if e.Format != Auto {
		s += e.Format.String() + ": "
	}
	return s + "offset " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

// Parse parses the syslog message b in format f, or in the format detected
// from b if f is [Auto].
//
// On success every byte slice of the result points into b, and Parse does
// not allocate. Parse keeps no reference to b. On failure it returns the
// zero Message and a [*ParseError]. It never panics.
//
// now and loc are used only for RFC 3164 timestamps such as
// "Nov 24 10:00:00", which have no year and no zone: the time is taken in
// loc (UTC if nil) in the year that puts it closest to now (so December
// messages received in January are last year's). If now is zero,
// [time.Now] is used.
//
// RFC 3164 messages are read as follows; the parse never fails after the
// PRI:
//
//  1. PRI, optional. Without it the facility is user and the severity
//     notice. SPs after it are skipped.
//  2. A timestamp, either "Mmm dd hh:mm:ss" (the day may also be
//     space-padded, "Mmm  d", or unpadded, "Mmm d"; an optional fraction of
//     1–9 digits may follow the seconds), or RFC 3339 as in RFC 5424
//     (rsyslog's high-precision format). It must be followed by SP or the
//     end. If there is none, or it is not a valid date and time, the message
//     has no header: Timestamp is zero and everything after the PRI is Msg.
//  3. HOSTNAME, the next SP-separated token, 1–255 printable US-ASCII bytes.
//     If that token is a TAG ending in ':' instead, the message has no
//     hostname (several senders omit it) and the token is read as the TAG.
//     If the token is neither, it starts Msg.
//  4. TAG, the next token, if it has the form "app:" or "app[pid]:", where
//     app is 1–48 printable US-ASCII bytes other than ':', '[' and ']' and
//     pid is up to 128 printable US-ASCII bytes other than ']'. Msg follows
//     the one SP after the TAG. A token that does not have this form is not
//     a tag; it starts Msg.
func Parse(b []byte, f Format, now time.Time, loc *time.Location) (Message, error) {
	return parseWith(b, f, now, loc, nil)
}

// Parser is [Parse] for one stream of messages: it remembers the date and
// time to the second of the last RFC 3339 timestamp it parsed, which the
// next message mostly shares, and then checks and converts only what
// follows. Its results are Parse's. Its zero value is ready to use; it is
// not safe for concurrent use.
type Parser struct {
	last lastDate
}

// Parse parses b as the package's Parse does.
func (p *Parser) Parse(b []byte, f Format, now time.Time, loc *time.Location) (Message, error) {
	return parseWith(b, f, now, loc, &p.last)
}

// ParseTo is Parse with the result set in *m, all of it (the zero
// Message on failure), rather than returned: a Message is large, and
// this saves copying it out of the call.
func (p *Parser) ParseTo(m *Message, b []byte, f Format, now time.Time, loc *time.Location) error {
	*m = Message{}
	return parseTo(m, b, f, now, loc, &p.last) // ParseTo is inlined: one call
}

// parseTo parses b into *m, a zero Message, and leaves it zero on
// failure.
func parseTo(m *Message, b []byte, f Format, now time.Time, loc *time.Location, last *lastDate) error {
	off, reason := parse(m, b, f, now, loc, last)
	if reason == "" {
		return nil
	}
	err := &ParseError{Format: m.Format, Offset: off, Reason: reason}
	*m = Message{}
	return err
}

func parseWith(b []byte, f Format, now time.Time, loc *time.Location, last *lastDate) (Message, error) {
	var m Message
	if off, reason := parse(&m, b, f, now, loc, last); reason != "" {
		return Message{}, &ParseError{Format: m.Format, Offset: off, Reason: reason}
	}
	return m, nil
}

// Default PRI of an RFC 3164 message without one: user.notice.
const (
	defaultFacility = 1
	defaultSeverity = 5
)

// parse does the work of Parse. It returns the offset and the reason of a
// failure, or "" for the reason on success.
func parse(m *Message, b []byte, f Format, now time.Time, loc *time.Location, last *lastDate) (int, string) {
	m.Format = f
	if f > RFC3164 {
		return 0, "unknown format"
	}
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if len(b) == 0 {
		return 0, "empty message"
	}
	if b[0] != '<' {
		if f == RFC5424 {
			return 0, "missing PRI"
		}
		m.Format = RFC3164
		m.Facility, m.Severity = defaultFacility, defaultSeverity
		parse3164(m, b, 0, now, loc, last)
		return 0, ""
	}
	pri, i, reason := parsePRI(b)
	if reason != "" {
		return i, reason
	}
	m.Facility, m.Severity = pri/8, pri%8
	if f == Auto {
		f = RFC3164
		if i+1 < len(b) && b[i] == '1' && b[i+1] == ' ' {
			f = RFC5424
		}
		m.Format = f
	}
	if f == RFC5424 {
		return parse5424(m, b, i, last)
	}
	parse3164(m, b, i, now, loc, last)
	return 0, ""
}

// parsePRI parses the PRI at the start of b, which starts with '<'. It
// returns the value and the index after '>', or the offset and the reason
// of a failure.
func parsePRI(b []byte) (pri uint8, next int, reason string) {
	v, i := 0, 1
	for i < len(b) && isDigit(b[i]) {
		if i > 3 {
			return 0, i, "priority longer than 3 digits"
		}
		v = v*10 + int(b[i]-'0')
		i++
	}
	switch {
	case i == 1:
		return 0, 1, "invalid priority: want digits after '<'"
	case b[1] == '0' && i > 2:
		return 0, 1, "invalid priority: leading zero"
	case v > 191:
		return 0, 1, "priority out of range 0-191"
	case i == len(b) || b[i] != '>':
		return 0, i, "invalid priority: want '>'"
	}
	return uint8(v), i + 1, ""
}

func isDigit(c byte) bool { return c-'0' < 10 }

// isPrint reports whether c is PRINTUSASCII (%d33-126).
func isPrint(c byte) bool { return c-'!' < '~'-'!'+1 }

// printable[c] is isPrint(c); sdNameChar[c] reports whether c may be in an
// SD-NAME: PRINTUSASCII except '=', SP, ']' and '"'.
var printable, sdNameChar = func() (p, sd [256]bool) {
	for c := range 256 {
		p[c] = isPrint(byte(c))
		sd[c] = p[c] && c != '=' && c != ']' && c != '"'
	}
	return p, sd
}()

// nonEmpty returns b, or nil if b is empty.
func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
