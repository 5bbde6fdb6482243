package clickhouse

import (
	"math"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/event"
)

// appendRow appends e as one JSONEachRow row with its nested objects
// flattened into dotted names, straight from the event: what flattening
// e.AppendJSON's object gives, byte for byte ({"syslog":{"appName":"a"}}
// becomes {"syslog.appName":"a"}; an SD element without params, an empty
// object, leaves nothing), without writing the nested JSON and reading
// it back. It keeps nothing and is safe for concurrent use.
//
// Every ClickHouse version matches such a name to a column of that name
// (`syslog.appName` String), which 18.x's input_format_import_nested_json
// does only one level deep.
func appendRow(dst []byte, e *event.Event) []byte {
	// The top-level members, raw and flags included, as AppendJSON writes
	// them (it writes the nested objects after them): encoded from a copy
	// without the nested parts, its closing brace dropped. The strings
	// below that lie in raw (a parser's fields do) are copied from raw's
	// escaped text, kept in txt, as AppendJSON does.
	top := event.Event{Time: e.Time, ReceivedAt: e.ReceivedAt, Source: e.Source, SourceType: e.SourceType,
		Host: e.Host, ContentType: e.ContentType, Raw: e.Raw, Flags: e.Flags}
	var txt event.Text
	dst = top.AppendJSONText(dst, event.JSONOptions{}, &txt)
	dst = dst[:len(dst)-1]
	if e.File.Path != "" {
		dst = append(dst, `,"file.path":`...)
		dst = txt.AppendString(dst, e.File.Path)
		dst = append(dst, `,"file.offset":`...)
		dst = strconv.AppendInt(dst, e.File.Offset, 10)
	}
	if s := &e.Syslog; s.Present {
		dst = append(dst, `,"syslog.facility":`...)
		dst = strconv.AppendUint(dst, uint64(s.Facility), 10)
		dst = append(dst, `,"syslog.severity":`...)
		dst = strconv.AppendUint(dst, uint64(s.Severity), 10)
		if s.Version != 0 {
			dst = append(dst, `,"syslog.version":`...)
			dst = strconv.AppendUint(dst, uint64(s.Version), 10)
		}
		dst = appendField(dst, &txt, `,"syslog.hostname":`, s.Hostname)
		dst = appendField(dst, &txt, `,"syslog.appName":`, s.AppName)
		dst = appendField(dst, &txt, `,"syslog.procId":`, s.ProcID)
		dst = appendField(dst, &txt, `,"syslog.msgId":`, s.MsgID)
		if s.StructuredData != "" {
			dst = appendSD(dst, s)
		}
		dst = appendField(dst, &txt, `,"syslog.message":`, s.Message)
	}
	if h := e.HTTP; h != nil {
		dst = appendField(dst, &txt, `,"http.method":`, h.Method)
		dst = appendField(dst, &txt, `,"http.path":`, h.Path)
		dst = appendField(dst, &txt, `,"http.query":`, h.Query)
		dst = appendField(dst, &txt, `,"http.protocol":`, h.Protocol)
		if h.Status != 0 {
			dst = append(dst, `,"http.status":`...)
			dst = strconv.AppendInt(dst, int64(h.Status), 10)
		}
		dst = append(dst, `,"http.bytes":`...)
		dst = strconv.AppendInt(dst, h.Bytes, 10)
		dst = appendField(dst, &txt, `,"http.referrer":`, h.Referrer)
		dst = appendField(dst, &txt, `,"http.userAgent":`, h.UserAgent)
		if t := h.RequestTime; t != 0 && !math.IsInf(t, 0) && !math.IsNaN(t) {
			dst = append(dst, `,"http.requestTime":`...)
			if abs := math.Abs(t); abs < 1e-6 || abs >= 1e21 { // as encoding/json writes it
				dst = strconv.AppendFloat(dst, t, 'e', -1, 64)
			} else {
				dst = strconv.AppendFloat(dst, t, 'f', -1, 64)
			}
		}
		dst = appendField(dst, &txt, `,"http.remoteAddr":`, h.RemoteAddr)
		dst = appendField(dst, &txt, `,"http.remoteUser":`, h.RemoteUser)
	}
	for _, f := range e.Fields {
		dst = appendName(dst, `,"fields.`, f.Name)
		dst = append(dst, `":`...)
		dst = txt.AppendString(dst, f.Value)
	}
	return append(dst, '}')
}

// appendSD appends the params of s's SD-ELEMENTs as members named
// syslog.structuredData.<SD-ID>.<PARAM-NAME>, their values with the RFC
// 5424 escapes resolved.
func appendSD(dst []byte, s *event.Syslog) []byte {
	var tmp []byte // a value with escapes, unescaped
	for id, params := range s.Elements() {
		for name, value := range params {
			dst = appendName(dst, `,"syslog.structuredData.`, id)
			dst = appendName(dst, ".", name)
			dst = append(dst, `":`...)
			if strings.IndexByte(value, '\\') < 0 {
				dst = event.AppendString(dst, value)
				continue
			}
			tmp = event.AppendUnescapedSD(tmp[:0], value)
			dst = event.AppendString(dst, tmp)
		}
	}
	return dst
}

// appendField appends key and value as a JSON string (written by t), if
// value is not empty.
func appendField(dst []byte, t *event.Text, key, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, key...)
	return t.AppendString(dst, value)
}

// appendName appends prefix and name escaped as in a JSON string,
// without its quotes: a part of a member's name.
func appendName(dst []byte, prefix, name string) []byte {
	dst = append(dst, prefix...)
	n := len(dst)
	dst = event.AppendString(dst, name)
	// AppendString quoted it: drop the quotes.
	copy(dst[n:], dst[n+1:len(dst)-1])
	return dst[:len(dst)-2]
}
