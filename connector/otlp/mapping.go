package otlp

import (
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// syslogSeverity maps syslog severities 0-7 to OTLP severity numbers.
var syslogSeverity = [8]plog.SeverityNumber{
	plog.SeverityNumberFatal4, plog.SeverityNumberFatal3, plog.SeverityNumberFatal, plog.SeverityNumberError,
	plog.SeverityNumberWarn, plog.SeverityNumberInfo2, plog.SeverityNumberInfo, plog.SeverityNumberDebug,
}

var syslogSeverityText = [8]string{"EMERG", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO", "DEBUG"}

// group is a ResourceLogs being filled and its ScopeLogs by key.
type group struct {
	rl     plog.ResourceLogs
	scopes map[string]plog.ScopeLogs
}

// toLogs maps msgs to one Logs, records grouped by resource and scope.
func toLogs(msgs []sluice.Message[event.Event]) plog.Logs {
	logs := plog.NewLogs()
	groups := map[string]*group{}
	scopeOf := func(resKey, scopeKey string, fill func(pcommon.Resource, pcommon.InstrumentationScope)) plog.ScopeLogs {
		g := groups[resKey]
		if g == nil {
			g = &group{rl: logs.ResourceLogs().AppendEmpty(), scopes: map[string]plog.ScopeLogs{}}
			groups[resKey] = g
			fill(g.rl.Resource(), pcommon.NewInstrumentationScope())
		}
		sl, ok := g.scopes[scopeKey]
		if !ok {
			sl = g.rl.ScopeLogs().AppendEmpty()
			g.scopes[scopeKey] = sl
			fill(pcommon.NewResource(), sl.Scope())
		}
		return sl
	}
	var sh shape
	for i := range msgs {
		e := &msgs[i].Value
		if e.SourceType == "otlp" {
			sh = shape{}
			lr := plog.NewLogRecord()
			if decodeShape(e.Raw, &sh) == nil && sh.fill(lr) == nil && isObject(sh.Resource) && isObject(sh.Scope.Attributes) {
				resKey := "o" + string(sh.Resource)
				scopeKey := sh.Scope.Name + "\x00" + sh.Scope.Version + "\x00" + string(sh.Scope.Attributes)
				sl := scopeOf(resKey, scopeKey, func(r pcommon.Resource, sc pcommon.InstrumentationScope) {
					_ = fillMap(r.Attributes(), sh.Resource) // isObject: cannot fail
					sc.SetName(sh.Scope.Name)
					sc.SetVersion(sh.Scope.Version)
					_ = fillMap(sc.Attributes(), sh.Scope.Attributes)
				})
				lr.MoveTo(sl.LogRecords().AppendEmpty())
				continue
			}
			// Not what an otlp source writes: sent as a plain event.
		}
		host := e.Host
		if e.Syslog.Present && e.Syslog.Hostname != "" {
			host = e.Syslog.Hostname
		}
		sl := scopeOf("p"+host, "", func(r pcommon.Resource, _ pcommon.InstrumentationScope) {
			if host != "" {
				r.Attributes().PutStr("host.name", host)
			}
		})
		plainRecord(e, sl.LogRecords().AppendEmpty())
	}
	return logs
}

// plainRecord maps an event that did not come from OTLP; see the package
// doc.
func plainRecord(e *event.Event, lr plog.LogRecord) {
	if !e.Time.IsZero() {
		lr.SetTimestamp(pcommon.NewTimestampFromTime(e.Time))
	}
	if !e.ReceivedAt.IsZero() {
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(e.ReceivedAt))
	}
	a := lr.Attributes()
	if s := &e.Syslog; s.Present {
		lr.Body().SetStr(s.Message)
		if s.Severity < 8 {
			lr.SetSeverityNumber(syslogSeverity[s.Severity])
			lr.SetSeverityText(syslogSeverityText[s.Severity])
		}
		a.PutInt("syslog.facility", int64(s.Facility))
		for _, kv := range [...][2]string{{"syslog.appname", s.AppName}, {"syslog.procid", s.ProcID}, {"syslog.msgid", s.MsgID}} {
			if kv[1] != "" {
				a.PutStr(kv[0], kv[1])
			}
		}
	} else {
		lr.Body().SetStr(string(e.Raw))
	}
	for _, f := range e.Fields {
		a.PutStr(f.Name, f.Value)
	}
	if e.Source != "" {
		a.PutStr("sluice.source", e.Source)
	}
	if e.SourceType != "" {
		a.PutStr("sluice.sourceType", e.SourceType)
	}
	if e.Flags != 0 {
		a.PutStr("sluice.flags", strconv.Itoa(int(e.Flags)))
	}
}

// isObject reports whether raw, valid JSON, is absent or an object.
func isObject(raw []byte) bool { return len(raw) == 0 || raw[0] == '{' }
