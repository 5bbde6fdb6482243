// Package fieldpath reads a string from an event by a path named as in the
// event's JSON encoding: "message", "raw", "host", "syslog.appName",
// "http.path", "fields.user" and so on. Handlers use it for their "field",
// "key" and "fields" settings, checked at start.
package fieldpath

import (
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/sluicehq/sluice/event"
)

// Getter returns the value at a path of e and whether e has it. The string
// may point into e (its Raw is never modified once built); Getters for
// string fields allocate nothing.
type Getter func(e *event.Event) (string, bool)

// Paths lists the paths Compile takes, for documentation and errors.
const Paths = `message, raw, host, source, sourceType, contentType, file.path, ` +
	`syslog.{hostname,appName,procId,msgId,message,structuredData}, ` +
	`http.{method,path,protocol,status,referrer,userAgent,remoteAddr,remoteUser}, fields.NAME`

// Compile returns the Getter of path, or an error naming the paths there
// are. "message" is the syslog message of a syslog event, and the raw bytes
// of any other; "fields.NAME" is the field NAME (which may contain dots).
func Compile(path string) (Getter, error) {
	if name, ok := strings.CutPrefix(path, "fields."); ok && name != "" {
		return func(e *event.Event) (string, bool) { return e.Field(name) }, nil
	}
	if g, ok := getters[path]; ok {
		return g, nil
	}
	return nil, fmt.Errorf("unknown field %q (want one of %s)", path, Paths)
}

func str(s string) (string, bool) { return s, s != "" }

func raw(e *event.Event) (string, bool) {
	return unsafe.String(unsafe.SliceData(e.Raw), len(e.Raw)), len(e.Raw) > 0
}

func syslog(f func(*event.Syslog) string) Getter {
	return func(e *event.Event) (string, bool) {
		if !e.Syslog.Present {
			return "", false
		}
		return str(f(&e.Syslog))
	}
}

func http(f func(*event.HTTP) string) Getter {
	return func(e *event.Event) (string, bool) {
		if e.HTTP == nil {
			return "", false
		}
		return str(f(e.HTTP))
	}
}

var getters = map[string]Getter{
	"message": func(e *event.Event) (string, bool) {
		if e.Syslog.Present {
			return e.Syslog.Message, true
		}
		return raw(e)
	},
	"raw":                   raw,
	"host":                  func(e *event.Event) (string, bool) { return str(e.Host) },
	"source":                func(e *event.Event) (string, bool) { return str(e.Source) },
	"sourceType":            func(e *event.Event) (string, bool) { return str(e.SourceType) },
	"contentType":           func(e *event.Event) (string, bool) { return str(e.ContentType) },
	"file.path":             func(e *event.Event) (string, bool) { return str(e.File.Path) },
	"syslog.hostname":       syslog(func(s *event.Syslog) string { return s.Hostname }),
	"syslog.appName":        syslog(func(s *event.Syslog) string { return s.AppName }),
	"syslog.procId":         syslog(func(s *event.Syslog) string { return s.ProcID }),
	"syslog.msgId":          syslog(func(s *event.Syslog) string { return s.MsgID }),
	"syslog.message":        syslog(func(s *event.Syslog) string { return s.Message }),
	"syslog.structuredData": syslog(func(s *event.Syslog) string { return s.StructuredData }),
	"http.method":           http(func(h *event.HTTP) string { return h.Method }),
	"http.path":             http(func(h *event.HTTP) string { return h.Path }),
	"http.query":            http(func(h *event.HTTP) string { return h.Query }),
	"http.protocol":         http(func(h *event.HTTP) string { return h.Protocol }),
	"http.status": func(e *event.Event) (string, bool) {
		if e.HTTP == nil || e.HTTP.Status == 0 {
			return "", false
		}
		return strconv.Itoa(e.HTTP.Status), true
	},
	"http.referrer":   http(func(h *event.HTTP) string { return h.Referrer }),
	"http.userAgent":  http(func(h *event.HTTP) string { return h.UserAgent }),
	"http.remoteAddr": http(func(h *event.HTTP) string { return h.RemoteAddr }),
	"http.remoteUser": http(func(h *event.HTTP) string { return h.RemoteUser }),
}
