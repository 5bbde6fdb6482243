package daemon

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/event"
)

// recordBound is an upper bound of the record's size, for every kind of
// event, so that Send never spools what the spool cannot take.
func TestRecordBound(t *testing.T) {
	long := strings.Repeat("v", 300)
	for _, e := range []event.Event{
		{},
		{Raw: []byte("x")},
		{Time: time.Unix(1<<40, 999999999), ReceivedAt: time.Now(), Source: long, SourceType: "syslog", Host: long, ContentType: long,
			Raw: []byte(long), Flags: event.Flags(0xffff), File: event.File{Path: long, Offset: -1 << 62},
			Syslog: event.Syslog{Present: true, Facility: 255, Severity: 255, Version: 255, Hostname: long, AppName: long,
				ProcID: long, MsgID: long, StructuredData: long, Message: long},
			HTTP: &event.HTTP{Method: long, Path: long, Query: long + long, Protocol: long, Status: -1 << 40, Bytes: 1 << 62, Referrer: long,
				UserAgent: long, RequestTime: 1.5, RemoteAddr: long, RemoteUser: long},
			Fields: []event.Field{{Name: long, Value: long}, {Name: "", Value: ""}}},
	} {
		if n, bound := len(e.AppendRecord(nil)), recordBound(&e); bound < n {
			t.Errorf("bound %d below the record's %d bytes", bound, n)
		}
		if n := len(e.AppendRecord(nil)); recordSize(&e, n-1) != n {
			t.Errorf("recordSize with a max below the record = %d, want %d", recordSize(&e, n-1), n)
		}
	}
}
