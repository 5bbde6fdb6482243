package daemon

import (
	"log/slog"
	"slices"
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

// refuse moves exactly the events too large for the spool to rejected,
// with the reason, keeps the others in order, never changes its input,
// and allocates nothing when every event fits.
func TestRefuse(t *testing.T) {
	b := &diskBuffer{name: "out", maxRec: 1000, seg: 1024, log: slog.New(slog.DiscardHandler)}
	ev := func(n int) msg { return msg{Value: event.Event{Raw: []byte(strings.Repeat("r", n))}} }
	in := []msg{ev(1), ev(2000), ev(3), ev(5000), ev(5)}
	orig := slices.Clone(in)
	kept, rejected := b.refuse(in, nil)
	if len(kept) != 3 || len(kept[0].Value.Raw) != 1 || len(kept[1].Value.Raw) != 3 || len(kept[2].Value.Raw) != 5 {
		t.Errorf("kept %d events, want the three small ones in order", len(kept))
	}
	if len(rejected) != 2 {
		t.Fatalf("rejected %d, want 2", len(rejected))
	}
	for i, m := range rejected {
		reason, _ := m.Attributes.Get(RejectAttr)
		if !strings.HasPrefix(reason, "too large for the spool: ") || !strings.HasSuffix(reason, " bytes, buffer out segmentBytes 1024") {
			t.Errorf("rejected[%d] reason %q", i, reason)
		}
	}
	for i := range in {
		if _, marked := in[i].Attributes.Get(RejectAttr); marked || len(in[i].Value.Raw) != len(orig[i].Value.Raw) {
			t.Fatalf("refuse changed its input at %d", i)
		}
	}
	small := []msg{ev(1), ev(2)}
	if n := testing.AllocsPerRun(100, func() { kept, _ = b.refuse(small, nil) }); n != 0 || &kept[0] != &small[0] {
		t.Errorf("every event fits: %v allocations, same slice %v; want 0 and the input", n, &kept[0] == &small[0])
	}
}
