package gelf

import (
	"strconv"
	"time"

	"github.com/sluicehq/sluice/event"
)

// appendMessage appends e as a GELF 1.1 message:
//
//   - "host": the syslog hostname, else the sender's address, else host;
//   - "short_message": the syslog message, else the raw line ("-" if
//     empty: GELF requires one); "full_message": the raw line, when
//     short_message is the parsed message;
//   - "timestamp": the event's time, seconds with milliseconds;
//   - "level": the syslog severity, when the event is syslog;
//   - additional fields, "_" and a name of [A-Za-z0-9_.-]: _source,
//     _source_type, _facility, _app_name, _proc_id, _msg_id, _file,
//     _offset, and the event's own fields except those names (other
//     characters become "_"; "_id", reserved, becomes "_id_").
func appendMessage(dst []byte, e *event.Event, defHost string) []byte {
	sy := &e.Syslog
	host := defHost
	switch {
	case sy.Present && sy.Hostname != "":
		host = sy.Hostname
	case e.Host != "":
		host = e.Host
	}
	dst = append(dst, `{"version":"1.1","host":`...)
	dst = event.AppendString(dst, host)
	dst = append(dst, `,"short_message":`...)
	switch {
	case sy.Present && sy.Message != "":
		dst = event.AppendString(dst, sy.Message)
		dst = append(dst, `,"full_message":`...)
		dst = event.AppendString(dst, e.Raw)
	case len(e.Raw) > 0:
		dst = event.AppendString(dst, e.Raw)
	default:
		dst = append(dst, `"-"`...)
	}
	t := e.Timestamp()
	dst = append(dst, `,"timestamp":`...)
	dst = strconv.AppendInt(dst, t.Unix(), 10)
	ms := t.Nanosecond() / int(time.Millisecond)
	dst = append(dst, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	if sy.Present {
		dst = append(dst, `,"level":`...)
		dst = strconv.AppendUint(dst, uint64(sy.Severity), 10)
		dst = appendField(dst, "facility", strconv.Itoa(int(sy.Facility)))
		dst = appendField(dst, "app_name", sy.AppName)
		dst = appendField(dst, "proc_id", sy.ProcID)
		dst = appendField(dst, "msg_id", sy.MsgID)
	}
	dst = appendField(dst, "source", e.Source)
	dst = appendField(dst, "source_type", e.SourceType)
	if e.File.Path != "" {
		dst = appendField(dst, "file", e.File.Path)
		dst = append(dst, `,"_offset":`...)
		dst = strconv.AppendInt(dst, e.File.Offset, 10)
	}
	for _, f := range e.Fields {
		if !builtin[f.Name] { // a key given twice is ambiguous
			dst = appendField(dst, f.Name, f.Value)
		}
	}
	return append(dst, '}')
}

// builtin are the additional fields appendMessage writes itself.
var builtin = map[string]bool{"facility": true, "app_name": true, "proc_id": true, "msg_id": true,
	"source": true, "source_type": true, "file": true, "offset": true}

// appendField appends ,"_name":"value" with name made valid; an empty
// value is left out.
func appendField(dst []byte, name, value string) []byte {
	if value == "" || name == "" {
		return dst
	}
	dst = append(dst, `,"_`...)
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' {
			dst = append(dst, c)
		} else {
			dst = append(dst, '_')
		}
	}
	if name == "id" {
		dst = append(dst, '_')
	}
	dst = append(dst, `":`...)
	return event.AppendString(dst, value)
}
