// Package filter provides the "drop" and "keep" handlers: they drop, or
// keep only, the events for which a condition holds. Conditions are
// expr-lang expressions (https://expr-lang.org) over the event's fields,
// named as in its JSON encoding:
//
//	syslog.severity <= 4
//	http.status >= 500 && http.path startsWith "/api"
//	source == "web" and not (raw contains "healthcheck")
//	fields["_SYSTEMD_UNIT"] == "ssh.service"
//
// Fields an event does not have read as their zero value ("" or 0).
// A condition that is not valid, or not boolean, fails at start.
package filter

import (
	"context"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// Config configures a drop or keep handler.
type Config struct {
	// If is the condition, an expr-lang expression that returns a boolean.
	// Required.
	If string `json:"if" sluice:"required"`
}

// Handler drops or keeps events by a condition. It is safe for concurrent
// use.
type Handler struct {
	prog    *vm.Program
	keep    bool // keep matching events (and drop the rest) instead of dropping them
	dropped func()
	views   sync.Pool
}

// New compiles cond. With keep, the handler keeps the events for which cond
// holds and drops the others; otherwise it drops those for which it holds.
// dropped, if not nil, is called for each dropped event.
func New(cond string, keep bool, dropped func()) (*Handler, error) {
	prog, err := expr.Compile(cond, expr.Env(view{}), expr.AsBool())
	if err != nil {
		return nil, fmt.Errorf("if: %w", err)
	}
	return &Handler{prog: prog, keep: keep, dropped: dropped, views: sync.Pool{New: func() any { return new(view) }}}, nil
}

// Handle returns msg, or nothing if it is dropped (the processor then acks
// it). An error evaluating the condition is returned; it is fatal.
func (h *Handler) Handle(_ context.Context, msg sluice.Message[event.Event]) ([]sluice.Message[event.Event], error) {
	v := h.views.Get().(*view)
	v.fill(&msg.Value)
	out, err := vm.Run(h.prog, v)
	*v = view{}
	h.views.Put(v)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	if out.(bool) == h.keep {
		return []sluice.Message[event.Event]{msg}, nil
	}
	if h.dropped != nil {
		h.dropped()
	}
	return nil, nil
}

// view is what a condition sees of an event.
type view struct {
	TS         time.Time         `expr:"ts"`
	ReceivedAt time.Time         `expr:"receivedAt"`
	Source     string            `expr:"source"`
	SourceType string            `expr:"sourceType"`
	Host       string            `expr:"host"`
	Raw        string            `expr:"raw"`
	ParseError bool              `expr:"parseError"`
	File       fileView          `expr:"file"`
	Syslog     syslogView        `expr:"syslog"`
	HTTP       httpView          `expr:"http"`
	Fields     map[string]string `expr:"fields"`
}

type fileView struct {
	Path   string `expr:"path"`
	Offset int64  `expr:"offset"`
}

type syslogView struct {
	Facility int    `expr:"facility"`
	Severity int    `expr:"severity"`
	Hostname string `expr:"hostname"`
	AppName  string `expr:"appName"`
	ProcID   string `expr:"procId"`
	MsgID    string `expr:"msgId"`
	Message  string `expr:"message"`
}

type httpView struct {
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

func (v *view) fill(e *event.Event) {
	*v = view{TS: e.Timestamp(), ReceivedAt: e.ReceivedAt, Source: e.Source, SourceType: e.SourceType, Host: e.Host,
		// Raw is never modified once built (package event), so the string
		// may share its bytes for the length of the call.
		Raw:        unsafe.String(unsafe.SliceData(e.Raw), len(e.Raw)),
		ParseError: e.Flags.Has(event.ParseError),
		File:       fileView{Path: e.File.Path, Offset: e.File.Offset},
	}
	if s := &e.Syslog; s.Present {
		v.Syslog = syslogView{Facility: int(s.Facility), Severity: int(s.Severity), Hostname: s.Hostname, AppName: s.AppName,
			ProcID: s.ProcID, MsgID: s.MsgID, Message: s.Message}
	}
	if h := e.HTTP; h != nil {
		v.HTTP = httpView{Method: h.Method, Path: h.Path, Query: h.Query, Status: h.Status, Bytes: h.Bytes, Referrer: h.Referrer,
			UserAgent: h.UserAgent, RequestTime: h.RequestTime, RemoteAddr: h.RemoteAddr}
	}
	if len(e.Fields) > 0 {
		v.Fields = make(map[string]string, len(e.Fields))
		for _, f := range e.Fields {
			v.Fields[f.Name] = f.Value
		}
	}
}

var _ sluice.Handler[event.Event, event.Event] = (*Handler)(nil)
