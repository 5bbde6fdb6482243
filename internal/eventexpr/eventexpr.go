// Package eventexpr compiles expr-lang expressions (https://expr-lang.org)
// over an event's fields, named as in its JSON encoding:
//
//	syslog.severity <= 4
//	http.status >= 500 && http.path startsWith "/api"
//	source == "web" and not (raw contains "healthcheck")
//	fields["_SYSTEMD_UNIT"] == "ssh.service"
//
// Fields an event does not have read as their zero value ("" or 0). Values
// have no methods (`ts.Year()` does not compile): sluice builds with a copy
// of expr without run-time method lookups, which cost 9 MB of binary
// (third_party/expr/SLUICE.md); times and durations still compare, add and
// subtract, and expr's builtins work. It is shared by the drop and keep handlers, remap, and the daemon's
// conditional routes.
package eventexpr

import (
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/sluicehq/sluice/event"
)

// Program is a compiled expression. It is safe for concurrent use.
type Program struct {
	prog  *vm.Program
	views sync.Pool
}

// Compile compiles src over an event with the extra options, such as
// [expr.AsBool]. An error says what is wrong and where, without a prefix.
func Compile(src string, opts ...expr.Option) (*Program, error) {
	prog, err := expr.Compile(src, append([]expr.Option{expr.Env(View{})}, opts...)...)
	if err != nil {
		return nil, err
	}
	return &Program{prog: prog, views: sync.Pool{New: func() any { return new(View) }}}, nil
}

// CompileCond compiles a condition: an expression that returns a boolean.
func CompileCond(src string) (*Program, error) { return Compile(src, expr.AsBool()) }

// Run evaluates the program on e. The result shares no memory with the
// pooled view, but strings in it may point into e.
func (p *Program) Run(e *event.Event) (any, error) {
	v := p.views.Get().(*View)
	v.fill(e)
	out, err := vm.Run(p.prog, v)
	*v = View{}
	p.views.Put(v)
	return out, err
}

// Cond evaluates a program made by [CompileCond].
func (p *Program) Cond(e *event.Event) (bool, error) {
	out, err := p.Run(e)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("condition returned %T, want bool", out)
	}
	return b, nil
}

// View is what an expression sees of an event.
type View struct {
	TS         time.Time         `expr:"ts"`
	ReceivedAt time.Time         `expr:"receivedAt"`
	Source     string            `expr:"source"`
	SourceType string            `expr:"sourceType"`
	Host       string            `expr:"host"`
	Raw        string            `expr:"raw"`
	ParseError bool              `expr:"parseError"`
	File       FileView          `expr:"file"`
	Syslog     SyslogView        `expr:"syslog"`
	HTTP       HTTPView          `expr:"http"`
	Fields     map[string]string `expr:"fields"`
}

// FileView is the file part of [View].
type FileView struct {
	Path   string `expr:"path"`
	Offset int64  `expr:"offset"`
}

// SyslogView is the syslog part of [View].
type SyslogView struct {
	Facility int    `expr:"facility"`
	Severity int    `expr:"severity"`
	Hostname string `expr:"hostname"`
	AppName  string `expr:"appName"`
	ProcID   string `expr:"procId"`
	MsgID    string `expr:"msgId"`
	Message  string `expr:"message"`
}

// HTTPView is the http part of [View].
type HTTPView struct {
	Method      string  `expr:"method"`
	Path        string  `expr:"path"`
	Query       string  `expr:"query"`
	Status      int     `expr:"status"`
	Bytes       int64   `expr:"bytes"`
	Referrer    string  `expr:"referrer"`
	UserAgent   string  `expr:"userAgent"`
	RequestTime float64 `expr:"requestTime"`
	RemoteAddr  string  `expr:"remoteAddr"`
}

func (v *View) fill(e *event.Event) {
	*v = View{TS: e.Timestamp(), ReceivedAt: e.ReceivedAt, Source: e.Source, SourceType: e.SourceType, Host: e.Host,
		// Raw is never modified once built (package event), so the string
		// may share its bytes for the length of the call.
		Raw:        unsafe.String(unsafe.SliceData(e.Raw), len(e.Raw)),
		ParseError: e.Flags.Has(event.ParseError),
		File:       FileView{Path: e.File.Path, Offset: e.File.Offset},
	}
	if s := &e.Syslog; s.Present {
		v.Syslog = SyslogView{Facility: int(s.Facility), Severity: int(s.Severity), Hostname: s.Hostname, AppName: s.AppName,
			ProcID: s.ProcID, MsgID: s.MsgID, Message: s.Message}
	}
	if h := e.HTTP; h != nil {
		v.HTTP = HTTPView{Method: h.Method, Path: h.Path, Query: h.Query, Status: h.Status, Bytes: h.Bytes, Referrer: h.Referrer,
			UserAgent: h.UserAgent, RequestTime: h.RequestTime, RemoteAddr: h.RemoteAddr}
	}
	if len(e.Fields) > 0 {
		v.Fields = make(map[string]string, len(e.Fields))
		for _, f := range e.Fields {
			v.Fields[f.Name] = f.Value
		}
	}
}
