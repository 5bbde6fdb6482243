package otlp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicehq/sluice/event"
)

// appendRecord appends the JSON object that is the Raw of the event made
// from lr (the shape is in the package doc). Attributes keep their order;
// empty parts are left out. res and scope are the record's resource and
// scope as [appendResource] and [appendScope] encode them, once for all
// the records that share them.
func appendRecord(dst []byte, res, scope []byte, lr plog.LogRecord) []byte {
	dst = append(dst, '{')
	first := true
	key := func(k string) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = append(dst, k...)
		dst = append(dst, '"', ':')
	}
	if ts := lr.Timestamp(); ts != 0 {
		key("time")
		dst = appendTime(dst, ts)
	}
	if ts := lr.ObservedTimestamp(); ts != 0 {
		key("observedTime")
		dst = appendTime(dst, ts)
	}
	if n := lr.SeverityNumber(); n != 0 {
		key("severityNumber")
		dst = strconv.AppendInt(dst, int64(n), 10)
	}
	if s := lr.SeverityText(); s != "" {
		key("severityText")
		dst = event.AppendString(dst, s)
	}
	if s := lr.EventName(); s != "" {
		key("eventName")
		dst = event.AppendString(dst, s)
	}
	if b := lr.Body(); b.Type() != pcommon.ValueTypeEmpty {
		key("body")
		dst = appendValue(dst, b)
	}
	if a := lr.Attributes(); a.Len() > 0 {
		key("attributes")
		dst = appendMap(dst, a)
	}
	if id := lr.TraceID(); !id.IsEmpty() {
		key("traceId")
		dst = appendHex(dst, id[:])
	}
	if id := lr.SpanID(); !id.IsEmpty() {
		key("spanId")
		dst = appendHex(dst, id[:])
	}
	if f := lr.Flags(); f != 0 {
		key("flags")
		dst = strconv.AppendUint(dst, uint64(f), 10)
	}
	if res != nil {
		key("resource")
		dst = append(dst, res...)
	}
	if scope != nil {
		key("scope")
		dst = append(dst, scope...)
	}
	return append(dst, '}')
}

// appendResource appends the "resource" value of the records of res, or
// returns dst unchanged (nil if dst is) when it has no attributes.
func appendResource(dst []byte, res pcommon.Resource) []byte {
	if a := res.Attributes(); a.Len() > 0 {
		return appendMap(dst, a)
	}
	return dst
}

// appendScope appends the "scope" value of the records of scope, or
// returns dst unchanged when it is empty.
func appendScope(dst []byte, scope pcommon.InstrumentationScope) []byte {
	if scope.Name() == "" && scope.Version() == "" && scope.Attributes().Len() == 0 {
		return dst
	}
	dst = append(dst, '{')
	sep := false
	for _, kv := range [...][2]string{{"name", scope.Name()}, {"version", scope.Version()}} {
		if kv[1] == "" {
			continue
		}
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = append(dst, '"')
		dst = append(dst, kv[0]...)
		dst = append(dst, '"', ':')
		dst = event.AppendString(dst, kv[1])
	}
	if a := scope.Attributes(); a.Len() > 0 {
		if sep {
			dst = append(dst, ',')
		}
		dst = append(dst, `"attributes":`...)
		dst = appendMap(dst, a)
	}
	return append(dst, '}')
}

func appendTime(dst []byte, ts pcommon.Timestamp) []byte {
	dst = append(dst, '"')
	dst = ts.AsTime().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

func appendHex(dst []byte, b []byte) []byte {
	dst = append(dst, '"')
	dst = hex.AppendEncode(dst, b)
	return append(dst, '"')
}

func appendMap(dst []byte, m pcommon.Map) []byte {
	dst = append(dst, '{')
	first := true
	for k, v := range m.All() {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = event.AppendString(dst, k)
		dst = append(dst, ':')
		dst = appendValue(dst, v)
	}
	return append(dst, '}')
}

// appendValue writes v as JSON: strings, booleans and maps as themselves,
// ints as numbers, doubles as numbers (NaN and ±Inf as the strings
// "NaN", "Infinity", "-Infinity"), bytes as base64 strings, empty as null.
func appendValue(dst []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return event.AppendString(dst, v.Str())
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(dst, v.Int(), 10)
	case pcommon.ValueTypeDouble:
		f := v.Double()
		switch {
		case math.IsNaN(f):
			return append(dst, `"NaN"`...)
		case math.IsInf(f, 1):
			return append(dst, `"Infinity"`...)
		case math.IsInf(f, -1):
			return append(dst, `"-Infinity"`...)
		}
		b := strconv.AppendFloat(dst, f, 'g', -1, 64)
		if !bytes.ContainsAny(b[len(dst):], ".eE") {
			b = append(b, ".0"...) // stays a double when read back
		}
		return b
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(dst, v.Bool())
	case pcommon.ValueTypeMap:
		return appendMap(dst, v.Map())
	case pcommon.ValueTypeSlice:
		dst = append(dst, '[')
		s := v.Slice()
		for i := range s.Len() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, s.At(i))
		}
		return append(dst, ']')
	case pcommon.ValueTypeBytes:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, v.Bytes().AsRaw())
		return append(dst, '"')
	}
	return append(dst, "null"...)
}

// shape is the event shape read back by the destination.
type shape struct {
	Time           time.Time       `json:"time"`
	ObservedTime   time.Time       `json:"observedTime"`
	SeverityNumber int32           `json:"severityNumber"`
	SeverityText   string          `json:"severityText"`
	EventName      string          `json:"eventName"`
	Body           json.RawMessage `json:"body"`
	Attributes     json.RawMessage `json:"attributes"`
	TraceID        string          `json:"traceId"`
	SpanID         string          `json:"spanId"`
	Flags          uint32          `json:"flags"`
	Resource       json.RawMessage `json:"resource"`
	Scope          struct {
		Name       string          `json:"name"`
		Version    string          `json:"version"`
		Attributes json.RawMessage `json:"attributes"`
	} `json:"scope"`
}

// decodeShape reads raw, an event's Raw written by appendRecord, into s.
func decodeShape(raw []byte, s *shape) error {
	if len(raw) == 0 || raw[0] != '{' {
		return errors.New("not a JSON object")
	}
	return json.Unmarshal(raw, s)
}

// fill sets lr from s; resource and scope attributes are the caller's.
func (s *shape) fill(lr plog.LogRecord) error {
	if !s.Time.IsZero() {
		lr.SetTimestamp(pcommon.NewTimestampFromTime(s.Time))
	}
	if !s.ObservedTime.IsZero() {
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(s.ObservedTime))
	}
	lr.SetSeverityNumber(plog.SeverityNumber(s.SeverityNumber))
	lr.SetSeverityText(s.SeverityText)
	lr.SetEventName(s.EventName)
	lr.SetFlags(plog.LogRecordFlags(s.Flags))
	if len(s.Body) > 0 {
		if err := decodeValue(s.Body, lr.Body()); err != nil {
			return fmt.Errorf("body: %w", err)
		}
	}
	if err := fillMap(lr.Attributes(), s.Attributes); err != nil {
		return fmt.Errorf("attributes: %w", err)
	}
	if s.TraceID != "" {
		var id pcommon.TraceID
		if n, err := hex.Decode(id[:], []byte(s.TraceID)); err != nil || n != len(id) {
			return fmt.Errorf("traceId %q: want 32 hex digits", s.TraceID)
		}
		lr.SetTraceID(id)
	}
	if s.SpanID != "" {
		var id pcommon.SpanID
		if n, err := hex.Decode(id[:], []byte(s.SpanID)); err != nil || n != len(id) {
			return fmt.Errorf("spanId %q: want 16 hex digits", s.SpanID)
		}
		lr.SetSpanID(id)
	}
	return nil
}

// fillMap sets m from raw, a JSON object (or nothing), keeping its order.
func fillMap(m pcommon.Map, raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	if raw[0] != '{' {
		return errors.New("not an object")
	}
	v := pcommon.NewValueEmpty()
	if err := decodeValue(raw, v); err != nil {
		return err
	}
	v.Map().MoveTo(m)
	return nil
}

// decodeValue sets v from the JSON value b, keeping the order of object
// keys; integers become ints, other numbers doubles.
func decodeValue(b []byte, v pcommon.Value) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return decodeNext(d, v)
}

func decodeNext(d *json.Decoder, v pcommon.Value) error {
	tok, err := d.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := v.SetEmptyMap()
			for d.More() {
				k, err := d.Token()
				if err != nil {
					return err
				}
				if err := decodeNext(d, m.PutEmpty(k.(string))); err != nil {
					return err
				}
			}
		case '[':
			s := v.SetEmptySlice()
			for d.More() {
				if err := decodeNext(d, s.AppendEmpty()); err != nil {
					return err
				}
			}
		}
		_, err = d.Token() // the closing delimiter
		return err
	case string:
		v.SetStr(t)
	case json.Number:
		if i, err := t.Int64(); err == nil {
			v.SetInt(i)
		} else {
			f, _ := t.Float64()
			v.SetDouble(f)
		}
	case bool:
		v.SetBool(t)
	}
	return nil
}
