package event

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
	"unsafe"
)

// The record encoding is a compact, lossless binary form of an [Event] for
// spools and other files that sluice itself writes and reads back. It is not
// an interchange format: use [Event.AppendJSON] for that.
//
// A record is a version byte followed by the fields of that version, in a
// fixed order, with nothing between them. In version 2 (version 1 is the
// same without its last field):
//
//	version      byte, 2
//	Time         time (below)
//	ReceivedAt   time
//	Source       string (below)
//	SourceType   string
//	Host         string
//	ContentType  string
//	Raw          string
//	Flags        uvarint, at most 0xffff
//	File.Path    string
//	File.Offset  varint
//	Syslog       byte: 0 if Syslog is the zero value, and nothing follows;
//	             1 if Present, 2 if not Present but another field is set,
//	             and then:
//	               Facility, Severity, Version   one byte each
//	               Hostname, AppName, ProcID, MsgID, StructuredData, Message
//	                                             strings
//	HTTP         byte: 0 if HTTP is nil, and nothing follows; 1 if not, and
//	             then:
//	               Method, Path, Protocol        strings
//	               Status                        varint
//	               Bytes                         varint
//	               Referrer, UserAgent           strings
//	               RequestTime                   8 bytes, the IEEE 754 bits
//	                                             little-endian
//	               RemoteAddr, RemoteUser        strings
//	Fields       uvarint count, then count pairs of strings: Name, Value
//	HTTP.Query   string; "" when HTTP is nil
//
// where uvarint and varint are as in [encoding/binary], a string is a
// uvarint length followed by that many bytes, and a time is a byte 0 for a
// zero [time.Time] (IsZero), with nothing after it, or a byte 1 followed by
// the varint Unix seconds and the uvarint nanoseconds (0 to 999999999).
//
// A time's location and monotonic reading are not kept: times decode in UTC.
// Nil and empty Raw or Fields are not told apart: both decode as nil.
//
// The version byte lets the format grow: a new field is appended after the
// last one under a new version number, and DecodeRecord goes on reading
// every older version. A version's layout never changes once released.

// recordVersion is the version AppendRecord writes.
const recordVersion = 2

// AppendRecord appends e's binary record encoding to dst and returns the
// extended buffer. The encoding is lossless: [DecodeRecord] gives back an
// event equal to e, except that times come back in UTC without a monotonic
// reading (they compare equal with [time.Time.Equal]), and an empty Raw or
// Fields comes back nil. The format is documented at the top of record.go;
// it is versioned, so records written now stay readable when fields are
// added. AppendRecord allocates nothing when dst has room.
func (e *Event) AppendRecord(dst []byte) []byte {
	dst = append(dst, recordVersion)
	dst = appendRecordTime(dst, e.Time)
	dst = appendRecordTime(dst, e.ReceivedAt)
	dst = appendRecordString(dst, e.Source)
	dst = appendRecordString(dst, e.SourceType)
	dst = appendRecordString(dst, e.Host)
	dst = appendRecordString(dst, e.ContentType)
	dst = appendRecordString(dst, e.Raw)
	dst = binary.AppendUvarint(dst, uint64(e.Flags))
	dst = appendRecordString(dst, e.File.Path)
	dst = binary.AppendVarint(dst, e.File.Offset)

	if s := &e.Syslog; *s == (Syslog{}) {
		dst = append(dst, 0)
	} else {
		if s.Present {
			dst = append(dst, 1)
		} else {
			dst = append(dst, 2)
		}
		dst = append(dst, s.Facility, s.Severity, s.Version)
		dst = appendRecordString(dst, s.Hostname)
		dst = appendRecordString(dst, s.AppName)
		dst = appendRecordString(dst, s.ProcID)
		dst = appendRecordString(dst, s.MsgID)
		dst = appendRecordString(dst, s.StructuredData)
		dst = appendRecordString(dst, s.Message)
	}

	if h := e.HTTP; h == nil {
		dst = append(dst, 0)
	} else {
		dst = append(dst, 1)
		dst = appendRecordString(dst, h.Method)
		dst = appendRecordString(dst, h.Path)
		dst = appendRecordString(dst, h.Protocol)
		dst = binary.AppendVarint(dst, int64(h.Status))
		dst = binary.AppendVarint(dst, h.Bytes)
		dst = appendRecordString(dst, h.Referrer)
		dst = appendRecordString(dst, h.UserAgent)
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(h.RequestTime))
		dst = appendRecordString(dst, h.RemoteAddr)
		dst = appendRecordString(dst, h.RemoteUser)
	}

	dst = binary.AppendUvarint(dst, uint64(len(e.Fields)))
	for _, f := range e.Fields {
		dst = appendRecordString(dst, f.Name)
		dst = appendRecordString(dst, f.Value)
	}
	var query string
	if e.HTTP != nil {
		query = e.HTTP.Query
	}
	return appendRecordString(dst, query)
}

func appendRecordString[S string | []byte](dst []byte, s S) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendRecordTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	dst = binary.AppendVarint(dst, t.Unix())
	return binary.AppendUvarint(dst, uint64(t.Nanosecond()))
}

// DecodeRecord decodes a record made by [Event.AppendRecord] into e,
// replacing all of e.
//
// It does not copy: the strings and Raw of e point into b (strings are made
// with [unsafe.String]), so b must not be modified while e or any copy of
// its strings is in use. Raw's capacity ends with it, so appending to Raw
// never writes over the rest of b. DecodeRecord allocates only Fields and
// HTTP, when the record has them.
//
// A record that is empty or truncated, has trailing bytes or an unknown
// version, or holds a length past its end or a value out of range gives an
// error that names the field and what is wrong, and e is left zero.
func DecodeRecord(b []byte, e *Event) error {
	if len(b) == 0 {
		*e = Event{}
		return fmt.Errorf("event: decode record: empty")
	}
	if b[0] != 1 && b[0] != recordVersion {
		*e = Event{}
		return fmt.Errorf("event: decode record: unknown version %d", b[0])
	}
	d := recordDecoder{b: b, i: 1}
	*e = Event{
		Time:        d.timestamp("Time"),
		ReceivedAt:  d.timestamp("ReceivedAt"),
		Source:      d.str("Source"),
		SourceType:  d.str("SourceType"),
		Host:        d.str("Host"),
		ContentType: d.str("ContentType"),
		Raw:         d.bytes("Raw"),
	}
	if f := d.uvarint("Flags"); f > math.MaxUint16 {
		d.fail("Flags", fmt.Sprintf("%d out of range", f))
	} else {
		e.Flags = Flags(f)
	}
	e.File.Path = d.str("File.Path")
	e.File.Offset = d.varint("File.Offset")

	switch m := d.u8("Syslog"); m {
	case 0:
	case 1, 2:
		e.Syslog = Syslog{
			Present:        m == 1,
			Facility:       d.u8("Syslog.Facility"),
			Severity:       d.u8("Syslog.Severity"),
			Version:        d.u8("Syslog.Version"),
			Hostname:       d.str("Syslog.Hostname"),
			AppName:        d.str("Syslog.AppName"),
			ProcID:         d.str("Syslog.ProcID"),
			MsgID:          d.str("Syslog.MsgID"),
			StructuredData: d.str("Syslog.StructuredData"),
			Message:        d.str("Syslog.Message"),
		}
	default:
		d.fail("Syslog", fmt.Sprintf("bad presence byte %d", m))
	}

	switch m := d.u8("HTTP"); m {
	case 0:
	case 1:
		h := &HTTP{
			Method:   d.str("HTTP.Method"),
			Path:     d.str("HTTP.Path"),
			Protocol: d.str("HTTP.Protocol"),
		}
		if s := d.varint("HTTP.Status"); int64(int(s)) != s {
			d.fail("HTTP.Status", fmt.Sprintf("%d out of range", s))
		} else {
			h.Status = int(s)
		}
		h.Bytes = d.varint("HTTP.Bytes")
		h.Referrer = d.str("HTTP.Referrer")
		h.UserAgent = d.str("HTTP.UserAgent")
		h.RequestTime = math.Float64frombits(d.u64("HTTP.RequestTime"))
		h.RemoteAddr = d.str("HTTP.RemoteAddr")
		h.RemoteUser = d.str("HTTP.RemoteUser")
		e.HTTP = h
	default:
		d.fail("HTTP", fmt.Sprintf("bad presence byte %d", m))
	}

	// Each field takes at least two bytes (two empty strings), which bounds
	// the count before anything is allocated.
	if n := d.uvarint("Fields"); n > uint64(len(d.b)-d.i)/2 {
		d.fail("Fields", fmt.Sprintf("count %d past end of record (%d bytes left)", n, len(d.b)-d.i))
	} else if n > 0 {
		e.Fields = make([]Field, n)
		for i := range e.Fields {
			e.Fields[i] = Field{Name: d.str("Fields.Name"), Value: d.str("Fields.Value")}
		}
	}

	if b[0] >= 2 {
		if q := d.str("HTTP.Query"); e.HTTP != nil {
			e.HTTP.Query = q
		} else if q != "" {
			d.fail("HTTP.Query", "set without HTTP")
		}
	}

	if d.err == nil && d.i != len(b) {
		d.err = fmt.Errorf("event: decode record: %d trailing bytes", len(b)-d.i)
	}
	if d.err != nil {
		*e = Event{}
		return d.err
	}
	return nil
}

// recordDecoder reads the parts of a record. The first error sticks: later
// reads return zero values, so DecodeRecord checks it once, at the end.
type recordDecoder struct {
	b   []byte
	i   int // the next byte to read
	err error
}

func (d *recordDecoder) fail(field, what string) {
	if d.err == nil {
		d.err = fmt.Errorf("event: decode record: %s: %s", field, what)
	}
}

func (d *recordDecoder) u8(field string) byte {
	if d.err != nil {
		return 0
	}
	if d.i >= len(d.b) {
		d.fail(field, "truncated")
		return 0
	}
	c := d.b[d.i]
	d.i++
	return c
}

func (d *recordDecoder) u64(field string) uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b)-d.i < 8 {
		d.fail(field, "truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b[d.i:])
	d.i += 8
	return v
}

func (d *recordDecoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.i:])
	if n <= 0 {
		d.varintError(field, n)
		return 0
	}
	d.i += n
	return v
}

func (d *recordDecoder) varint(field string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.i:])
	if n <= 0 {
		d.varintError(field, n)
		return 0
	}
	d.i += n
	return v
}

func (d *recordDecoder) varintError(field string, n int) {
	if n == 0 {
		d.fail(field, "truncated")
	} else {
		d.fail(field, "varint overflows 64 bits")
	}
}

// length reads a uvarint length and checks that that many bytes follow.
func (d *recordDecoder) length(field string) int {
	n := d.uvarint(field)
	if d.err != nil {
		return 0
	}
	if left := len(d.b) - d.i; n > uint64(left) {
		d.fail(field, fmt.Sprintf("length %d past end of record (%d bytes left)", n, left))
		return 0
	}
	return int(n)
}

// str returns the next string, pointing into d.b.
func (d *recordDecoder) str(field string) string {
	n := d.length(field)
	if n == 0 {
		return ""
	}
	s := unsafe.String(&d.b[d.i], n)
	d.i += n
	return s
}

// bytes returns the next string as a slice of d.b whose capacity ends with
// it, or nil if it is empty.
func (d *recordDecoder) bytes(field string) []byte {
	n := d.length(field)
	if n == 0 {
		return nil
	}
	p := d.b[d.i : d.i+n : d.i+n]
	d.i += n
	return p
}

func (d *recordDecoder) timestamp(field string) time.Time {
	switch m := d.u8(field); m {
	case 0:
		return time.Time{}
	case 1:
	default:
		d.fail(field, fmt.Sprintf("bad presence byte %d", m))
		return time.Time{}
	}
	sec := d.varint(field)
	nsec := d.uvarint(field)
	if d.err != nil {
		return time.Time{}
	}
	if nsec > 999_999_999 {
		d.fail(field, fmt.Sprintf("nanoseconds %d out of range", nsec))
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}
