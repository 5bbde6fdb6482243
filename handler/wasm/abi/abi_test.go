package abi_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/wasm/abi"
)

// events has one event of each shape: bare, syslog, HTTP with fields,
// times zero and not.
func events() []event.Event {
	return []event.Event{
		{Raw: []byte("one"), Source: "s", ReceivedAt: time.Unix(1, 2).UTC()},
		{Raw: []byte("<14>1 two"), Time: time.Unix(-5, 999).UTC(), Flags: 3, File: event.File{Path: "/f", Offset: -7},
			Syslog: event.Syslog{Present: true, Facility: 1, Severity: 6, Version: 1, Hostname: "h", AppName: "a", ProcID: "p", MsgID: "m",
				StructuredData: "[x]", Message: "two"}},
		{SourceType: "http", Host: "10.0.0.1", ContentType: "text/plain",
			HTTP: &event.HTTP{Method: "GET", Path: "/p", Query: "q=1", Protocol: "HTTP/1.1", Status: 404, Bytes: 1 << 40,
				Referrer: "r", UserAgent: "ua", RequestTime: 0.25, RemoteAddr: "1.2.3.4", RemoteUser: "u"},
			Fields: []event.Field{{Name: "a", Value: "b"}, {Name: "", Value: "c"}}},
		{Syslog: event.Syslog{Message: "not present"}},
		{Raw: shared, Syslog: event.Syslog{Present: true, Message: unsafe.String(&shared[6], len(shared)-6)}}, // as the syslog source makes it
	}
}

// shared is a raw line whose message shares its memory.
var shared = []byte("<14>1 the message")

func input(t testing.TB, es []event.Event) []byte {
	t.Helper()
	ev := func(i int) *event.Event { return &es[i] }
	b := make([]byte, abi.InputSize(len(es), ev))
	abi.PutInput(b, len(es), ev)
	return b
}

// same compares events by their record encoding, which is lossless.
func same(a, b *event.Event) bool { return bytes.Equal(a.AppendRecord(nil), b.AppendRecord(nil)) }

// The guest reads back every event the host wrote; emitting each
// unchanged, with strings changed, or with more changed gives Keep, Patch
// and Record, and the host reads back the events the guest emitted without
// writing into its own.
func TestRoundTrip(t *testing.T) {
	es := events()
	b := input(t, es)
	var in abi.Input
	if err := in.Reset(b); err != nil || in.Len() != len(es) {
		t.Fatalf("Reset: %d events, %v", in.Len(), err)
	}
	var w abi.Writer
	w.Reset()
	var want []event.Event
	var kinds []abi.Kind
	for i := range in.Len() {
		var e event.Event
		if err := in.Event(i, &e); err != nil {
			t.Fatal(err)
		}
		if !same(&e, &es[i]) {
			t.Fatalf("event %d: read %+v, want %+v", i, e, es[i])
		}
		w.Emit(&in, uint32(i), "", &e) // unchanged
		want, kinds = append(want, es[i]), append(kinds, abi.Keep)

		c := e // strings changed, in place too
		c.Raw = append([]byte(nil), "new raw"...)
		c.Syslog.Message = "new message"
		if c.HTTP != nil {
			c.HTTP.Path = "/new" // the guest's copy: the host's stays
		}
		if len(c.Fields) > 0 {
			c.Fields[1].Value = "new value"
		}
		w.Emit(&in, uint32(i), "other", &c)
		want, kinds = append(want, c), append(kinds, abi.Patch)

		c.Time = time.Unix(42, 0).UTC() // not a string: the whole event
		w.Emit(&in, uint32(i), "", &c)
		want, kinds = append(want, c), append(kinds, abi.Record)
		want[len(want)-2].HTTP = copyHTTP(c.HTTP)
		want[len(want)-2].Fields = append([]event.Field(nil), c.Fields...)
		want[len(want)-1].HTTP = copyHTTP(c.HTTP)
		want[len(want)-1].Fields = append([]event.Field(nil), c.Fields...)
	}
	w.Record(abi.NoInput, "alerts", &es[0])
	want, kinds = append(want, es[0]), append(kinds, abi.Record)

	// A message inside the raw line is not written twice.
	if n := abi.InputSize(1, func(int) *event.Event { return &es[4] }); n != 4+abi.ViewSize+len(shared) {
		t.Errorf("input of a syslog event: %d bytes, want %d", n, 4+abi.ViewSize+len(shared))
	}

	before := input(t, es)
	var got []abi.Output
	err := abi.ReadOutput(bytes.Clone(w.Bytes()), abi.Version, len(es), func(i int) *event.Event { return &es[i] }, func(o *abi.Output) error {
		got = append(got, *o)
		return nil
	})
	if err != nil || len(got) != len(want) {
		t.Fatalf("%d outputs, want %d: %v", len(got), len(want), err)
	}
	for i, o := range got {
		route := ""
		if kinds[i] == abi.Patch {
			route = "other"
		} else if i == len(got)-1 {
			route = "alerts"
		}
		if o.Kind != kinds[i] || o.Route != route || !same(&o.Event, &want[i]) {
			t.Errorf("output %d: kind %d route %q %+v\nwant kind %d route %q %+v", i, o.Kind, o.Route, o.Event, kinds[i], route, want[i])
		}
	}
	if !bytes.Equal(input(t, es), before) {
		t.Error("reading the output changed the input events")
	}
}

func copyHTTP(h *event.HTTP) *event.HTTP {
	if h == nil {
		return nil
	}
	c := *h
	return &c
}

// TestFail: a batch with status error gives the guest's message.
func TestFail(t *testing.T) {
	var w abi.Writer
	w.Reset()
	w.Keep(0, "")
	w.Fail("bad config")
	err := abi.ReadOutput(w.Bytes(), abi.Version, 1, nil, func(*abi.Output) error { t.Fatal("an event of a failed batch"); return nil })
	if !errors.Is(err, abi.ErrGuest) || err.Error() != "guest error: bad config" {
		t.Fatalf("err = %v", err)
	}
}

func TestMalformed(t *testing.T) {
	es := events()
	ev := func(i int) *event.Event { return &es[i] }
	out := func(entries ...[]byte) []byte {
		b := []byte{0, 0, 0, 0, byte(len(entries)), 0, 0, 0}
		for _, e := range entries {
			b = append(b, e...)
		}
		return b
	}
	u := func(vs ...uint32) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
		return b
	}
	rec := (&event.Event{Raw: []byte("x")}).AppendRecord(nil)
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "status: truncated at byte 0"},
		{"unknown status", u(7), "unknown status 7"},
		{"no count", u(0), "count: truncated"},
		{"truncated", out(u(0, 0)), "output 0: kind: truncated"},
		{"trailing", append(out(u(0, 0, 0)), 0), "1 bytes after the last event"},
		{"from past inputs", out(u(5, 0, 0)), "output 0: from 5, but the batch has 5 events"},
		{"keep of no input", out(u(abi.NoInput, 0, 0)), "output 0: from 4294967295"},
		{"unknown kind", out(u(0, 0, 3)), "output 0: unknown kind 3"},
		{"unknown slot", out(u(0, 0, 1, 1, abi.Slots, 0)), "output 0: unknown slot 20"},
		{"patch past the end", out(u(0, 0, 1, 1, abi.SlotRaw, 5), []byte("abc")), "output 0: string: length 5 past the end"},
		{"patch of absent HTTP", out(u(0, 0, 1, 1, abi.SlotHTTPPath, 0)), "output 0: slot 13: patches HTTP of an event without HTTP"},
		{"patch of absent field", out(u(2, 0, 1, 1, abi.FieldSlot+4, 0)), "output 0: slot 65540: patches field 2 of an event with 2"},
		{"bad record", out(u(0, 0, 2, uint32(len(rec))), append([]byte{9}, rec[1:]...)), "output 0: event: decode record: unknown version 9"},
		{"edit past the string", out(u(0, 0, 1, 1, abi.SlotRaw|abi.EditSlot, 8, 2, 2)), "output 0: slot 4: edit of bytes 2 to 4 of a string of 3"},
		{"edit of no bytes", out(u(0, 0, 1, 1, abi.SlotRaw|abi.EditSlot, 4, 0)), "output 0: slot 4: edit of 4 bytes"},
		{"edit of absent HTTP", out(u(0, 0, 1, 1, abi.SlotHTTPPath|abi.EditSlot, 8, 0, 0)), "output 0: slot 13: patches HTTP of an event without HTTP"},
		{"edit of an unknown slot", out(u(0, 0, 1, 1, abi.Slots|abi.EditSlot, 8, 0, 0)), "output 0: unknown slot 20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := abi.ReadOutput(tc.b, abi.Version, len(es), ev, func(*abi.Output) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want …%s…", err, tc.want)
			}
		})
	}
}

// FuzzReadOutput: whatever a guest returns, reading it gives events or an
// error, never a panic, an event past the input, or a change to the
// input events.
func FuzzReadOutput(f *testing.F) {
	es := events()
	b := input(f, es)
	var in abi.Input
	_ = in.Reset(b)
	var w abi.Writer
	w.Reset()
	for i := range in.Len() {
		var e event.Event
		_ = in.Event(i, &e)
		e.Host = "changed"
		w.Emit(&in, uint32(i), "r", &e)
		w.Keep(uint32(i), "")
		w.Edit(uint32(i), abi.SlotSource, 0, 0, "edited ")
		w.Keep(uint32(i), "")
	}
	w.Record(abi.NoInput, "", &es[2])
	f.Add(bytes.Clone(w.Bytes()))
	f.Add([]byte{1, 0, 0, 0, 'e'})
	before := input(f, es)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, version := range []int{2, abi.Version} {
			_ = abi.ReadOutput(b, version, len(es), func(i int) *event.Event { return &es[i] }, func(o *abi.Output) error {
				if o.From != abi.NoInput && int(o.From) >= len(es) {
					t.Fatalf("from %d of %d inputs", o.From, len(es))
				}
				return nil
			})
		}
		if !bytes.Equal(input(t, es), before) {
			t.Fatal("the input events changed")
		}
	})
}

// FuzzInput: a guest reading any bytes as an input batch gets events or
// an error, never a panic.
func FuzzInput(f *testing.F) {
	f.Add(input(f, events()))
	f.Fuzz(func(t *testing.T, b []byte) {
		var in abi.Input
		if in.Reset(b) != nil {
			return
		}
		var w abi.Writer
		w.Reset()
		var v abi.View
		// Check accepts the batch if View accepts every event, else
		// refuses it with the first event's error.
		var first error
		for i := range in.Len() {
			if err := in.View(i, &v); err != nil && first == nil {
				first = err
			}
		}
		if err := in.Check(); fmt.Sprint(err) != fmt.Sprint(first) {
			t.Fatalf("Check: %v, View's first error: %v", err, first)
		}
		for i := range in.Len() {
			var e event.Event
			if in.Event(i, &e) == nil {
				w.Emit(&in, uint32(i), "", &e)
			}
			if first == nil {
				var at abi.View
				in.At(i, &at)
				if in.View(i, &v); at != v {
					t.Fatalf("event %d: At and View differ", i)
				}
			}
			// A view reads what Event does, or is refused with it.
			if err := in.View(i, &v); (err == nil) != (in.Event(i, &e) == nil) {
				t.Fatalf("event %d: View %v, Event not", i, err)
			} else if err == nil {
				if v.String(abi.SlotRaw) != string(e.Raw) || v.String(abi.SlotSyslogMessage) != e.Syslog.Message || v.Fields() != len(e.Fields) {
					t.Fatalf("event %d: the view differs from the event", i)
				}
				for j := range v.Fields() {
					name, _ := v.Field(j)
					w.Set(uint32(i), abi.FieldSlot+2*uint32(j), name)
				}
				w.Set(uint32(i), abi.SlotHost, v.String(abi.SlotHost))
				w.Keep(uint32(i), "")
			}
		}
	})
}

// A string the same memory as one copied for the same slot of an event
// before (a source's name, a host) is written once; equal bytes elsewhere,
// in another slot or another memory, are written again. Every event
// reads back as it was.
func TestInputRepeatedStrings(t *testing.T) {
	src, host := "source-name", strings.Clone("10.0.0.1")
	tests := []struct {
		name string
		es   []event.Event
		want int // bytes of strings written
	}{
		{"same memory", []event.Event{{Source: src, Host: host}, {Source: src, Host: host}, {Source: src, Host: host}}, len(src) + len(host)},
		{"an empty one between", []event.Event{{Source: src}, {}, {Source: src}}, len(src)},
		{"another between", []event.Event{{Source: src}, {Source: "other"}, {Source: src}}, 2*len(src) + len("other")},
		{"another slot", []event.Event{{Source: src}, {Host: src}, {Source: src, Host: src}}, 2 * len(src)},
		{"equal bytes, other memory", []event.Event{{Host: host}, {Host: strings.Clone(host)}}, 2 * len(host)},
		{"a part of it", []event.Event{{Source: src}, {Source: src[:6]}}, len(src) + 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := func(i int) *event.Event { return &tt.es[i] }
			size := abi.InputSize(len(tt.es), ev)
			if want := 4 + len(tt.es)*abi.ViewSize + tt.want; size != want {
				t.Errorf("InputSize %d, want %d", size, want)
			}
			b := make([]byte, size)
			if n, ok := abi.PutInput(b, len(tt.es), ev); !ok || n != size {
				t.Fatalf("PutInput wrote %d of %d bytes (%v)", n, size, ok)
			}
			var in abi.Input
			if err := in.Reset(b); err != nil {
				t.Fatal(err)
			}
			for i := range tt.es {
				var e event.Event
				if err := in.Event(i, &e); err != nil || !same(&e, &tt.es[i]) {
					t.Errorf("event %d: read %+v (%v), want %+v", i, e, err, tt.es[i])
				}
			}
		})
	}
}

// PutInput writes a batch in one pass into a buffer of any size: a buffer
// too short by even one byte is refused (the host then sizes it with
// InputSize), and one larger than needed, holding an earlier batch's
// bytes, gets every byte of the batch written, the same batch as a buffer
// of the exact size.
func TestPutInputReusedBuffer(t *testing.T) {
	es := append(events(), events()...)
	es[5].Syslog.Message = "non-ASCII é 日本 in a raw line's place" // the message not within the raw line
	es = append(es, event.Event{Raw: []byte("only raw")}, event.Event{})
	ev := func(i int) *event.Event { return &es[i] }
	size := abi.InputSize(len(es), ev)
	for n := range size {
		if got, ok := abi.PutInput(make([]byte, n), len(es), ev); ok {
			t.Fatalf("a buffer of %d bytes for a batch of %d: ok, size %d", n, size, got)
		}
	}
	exact := make([]byte, size)
	if n, ok := abi.PutInput(exact, len(es), ev); !ok || n != size {
		t.Fatalf("exact buffer: %d bytes, %v; want %d", n, ok, size)
	}
	reused := bytes.Repeat([]byte{0xA5}, size+100)
	if n, ok := abi.PutInput(reused, len(es), ev); !ok || n != size || !bytes.Equal(reused[:n], exact) {
		t.Fatalf("reused buffer: %d bytes, %v, or bytes differ from the exact buffer's", n, ok)
	}
	var in abi.Input
	if err := in.Reset(reused[:size]); err != nil {
		t.Fatal(err)
	}
	for i := range es {
		var e event.Event
		if err := in.Event(i, &e); err != nil || !same(&e, &es[i]) {
			t.Fatalf("event %d: read %+v (%v), want %+v", i, e, err, es[i])
		}
		if b := reused[4+i*abi.ViewSize+236 : 4+(i+1)*abi.ViewSize]; !bytes.Equal(b, make([]byte, 4)) {
			t.Fatalf("event %d: reserved word %x", i, b)
		}
	}
}

// A Record carries record version 2 (docs/wasm.md): guests read it. A
// new record version needs a new ABI version, which this test is here to
// remind of.
func TestRecordVersion(t *testing.T) {
	var w abi.Writer
	w.Reset()
	w.Record(abi.NoInput, "", &event.Event{Raw: []byte("x")})
	b := w.Bytes() // status, count, from, route length, kind, length, then the record
	if len(b) < 25 || b[24] != 2 {
		t.Fatalf("output batch %x: want record version 2; a new record version needs ABI version %d", b, abi.Version+1)
	}
}

// A View reads every event as the host wrote it; Set and Keep append a
// Patch of what was set, or a Keep if nothing was, to either route, and
// what was set for an event that is not kept is dropped.
func TestViewSetKeep(t *testing.T) {
	es := events()
	var in abi.Input
	if err := in.Reset(input(t, es)); err != nil {
		t.Fatal(err)
	}
	var v abi.View
	for i := range es {
		if err := in.View(i, &v); err != nil {
			t.Fatal(err)
		}
		e := &es[i]
		var http event.HTTP
		if e.HTTP != nil {
			http = *e.HTTP
		}
		got := []string{v.String(abi.SlotSource), v.String(abi.SlotSourceType), v.String(abi.SlotHost), v.String(abi.SlotRaw),
			v.String(abi.SlotFilePath), v.String(abi.SlotSyslogStructuredData), v.String(abi.SlotSyslogMessage),
			v.String(abi.SlotHTTPQuery), v.String(abi.SlotHTTPRemoteUser)}
		want := []string{e.Source, e.SourceType, e.Host, string(e.Raw), e.File.Path, e.Syslog.StructuredData, e.Syslog.Message,
			http.Query, http.RemoteUser}
		if strings.Join(got, "|") != strings.Join(want, "|") || v.HasHTTP() != (e.HTTP != nil) || v.Fields() != len(e.Fields) || v.Index() != i {
			t.Errorf("view %d: %q http %v fields %d, want %q", i, got, v.HasHTTP(), v.Fields(), want)
		}
		for j, f := range e.Fields {
			if n, val := v.Field(j); n != f.Name || val != f.Value {
				t.Errorf("view %d field %d: %q=%q, want %q=%q", i, j, n, val, f.Name, f.Value)
			}
		}
	}
	if err := in.View(len(es), &v); err == nil {
		t.Error("a view past the batch")
	}

	var w abi.Writer
	w.Reset()
	w.Set(0, abi.SlotRaw, "new raw")
	w.Set(0, abi.SlotHost, "h2")
	w.Keep(0, "")
	w.Set(1, abi.SlotSource, "dropped with its event")
	w.Set(2, abi.FieldSlot+1, "v2")
	w.Keep(2, "alerts")
	w.Keep(2, "") // nothing set since the last Keep
	w.Set(3, abi.SlotSource, "set, then emitted whole")
	w.Record(3, "", &es[3])
	w.Set(4, abi.SlotSource, "dropped by Bytes")
	var got []string
	err := abi.ReadOutput(w.Bytes(), abi.Version, len(es), func(i int) *event.Event { return &es[i] }, func(o *abi.Output) error {
		got = append(got, fmt.Sprintf("%d%s/%d %s %s %v", o.From, o.Route, o.Kind, o.Event.Raw, o.Event.Host, o.Event.Fields))
		return nil
	})
	want := []string{"0/1 new raw h2 []", "2alerts/1  10.0.0.1 [{a v2} { c}]", "2/0  10.0.0.1 [{a b} { c}]", "3/2   []"}
	if err != nil || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, %v\nwant %q", got, err, want)
	}
	if es[2].Fields[0].Value != "b" {
		t.Error("the input event changed")
	}
}

// Edits splice their replacements into the event's strings, each in
// the string as the items before it left it, and never change the input.
func TestEdits(t *testing.T) {
	type edit struct {
		slot, off, cut uint32
		repl           string
	}
	for _, tc := range []struct {
		name  string
		from  uint32
		set   string // Set first, of slot edits[0].slot, if not empty
		edits []edit
		want  string // the event's Raw, Host, HTTP.Path, Syslog.Message and Fields
	}{
		{"raw", 0, "", []edit{{abi.SlotRaw, 1, 1, "NE"}}, "oNEe||||[]"},
		{"two in one string", 0, "", []edit{{abi.SlotRaw, 0, 1, "[o]"}, {abi.SlotRaw, 4, 1, "[e]"}}, "[o]n[e]||||[]"},
		{"insert and append", 0, "", []edit{{abi.SlotRaw, 0, 0, ">"}, {abi.SlotRaw, 4, 0, "<"}}, ">one<||||[]"},
		{"all of it", 0, "", []edit{{abi.SlotRaw, 0, 3, ""}}, "||||[]"},
		{"after a set", 0, "set", []edit{{abi.SlotRaw, 3, 0, "!"}}, "set!||||[]"},
		{"host", 2, "", []edit{{abi.SlotHost, 0, 2, "192"}}, "|192.0.0.1|/p||[{a b} { c}]"},
		{"http and fields", 2, "", []edit{{abi.SlotHTTPPath, 2, 0, "ath"}, {abi.FieldSlot + 1, 0, 1, "B"}, {abi.FieldSlot + 2, 0, 0, "n"}},
			"|10.0.0.1|/path||[{a B} {n c}]"},
		{"a message in the raw line", 4, "", []edit{{abi.SlotSyslogMessage, 4, 7, "text"}}, "<14>1 the message|||the text|[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := events()
			var w abi.Writer
			w.Reset()
			if tc.set != "" {
				w.Set(tc.from, tc.edits[0].slot, tc.set)
			}
			for _, e := range tc.edits {
				w.Edit(tc.from, e.slot, e.off, e.cut, e.repl)
			}
			w.Keep(tc.from, "")
			before := input(t, es)
			var got string
			err := abi.ReadOutput(w.Bytes(), abi.Version, len(es), func(i int) *event.Event { return &es[i] }, func(o *abi.Output) error {
				path := ""
				if o.Event.HTTP != nil {
					path = o.Event.HTTP.Path
				}
				got = fmt.Sprintf("%s|%s|%s|%s|%v", o.Event.Raw, o.Event.Host, path, o.Event.Syslog.Message, o.Event.Fields)
				return nil
			})
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
			if !bytes.Equal(input(t, es), before) {
				t.Error("the input events changed")
			}
		})
	}
}

// ABI version 2 has no edits: a version 2 batch with one is malformed.
func TestEditsVersion2(t *testing.T) {
	es := events()
	var w abi.Writer
	w.Reset()
	w.Edit(0, abi.SlotRaw, 0, 1, "x")
	w.Keep(0, "")
	err := abi.ReadOutput(w.Bytes(), 2, len(es), func(i int) *event.Event { return &es[i] }, func(*abi.Output) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "output 0: slot 2147483652: patches field") {
		t.Errorf("err = %v, want a malformed patch", err)
	}
}

// A view whose strings or field table lie outside the batch is refused.
func TestViewMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   int // a u32 of the first view, from its start
		set  uint32
		want string
	}{
		{"string past the end", 8*abi.SlotSyslogMessage + 4, 1 << 20, "event 2: a string past the end of the batch"},
		{"offset past the end", 8 * abi.SlotHTTPRemoteUser, 1 << 30, "event 2: a string past the end of the batch"},
		{"table past the end", abi.ViewFieldTable, 1 << 20, "event 2: field table past the end of the batch"},
		{"many fields", abi.ViewFieldCount, 1 << 28, "event 2: field table past the end of the batch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := input(t, events())
			binary.LittleEndian.PutUint32(b[4+2*abi.ViewSize+tc.at:], tc.set)
			var in abi.Input
			var v abi.View
			if err := in.Reset(b); err != nil {
				t.Fatal(err)
			}
			if err := in.View(2, &v); err == nil || err.Error() != tc.want {
				t.Errorf("err = %v, want %s", err, tc.want)
			}
			if err := in.Check(); err == nil || err.Error() != tc.want {
				t.Errorf("Check: err = %v, want %s", err, tc.want)
			}
			defer func() {
				if recover() == nil {
					t.Error("At after a failed Check: no panic")
				}
			}()
			in.At(0, &v)
		})
	}
	// A field's string outside the batch.
	es := events()
	b := input(t, es)
	table := binary.LittleEndian.Uint32(b[4+2*abi.ViewSize+abi.ViewFieldTable:])
	binary.LittleEndian.PutUint32(b[table+12:], 1<<20)
	var in abi.Input
	var v abi.View
	_ = in.Reset(b)
	if err := in.View(2, &v); err == nil || !strings.Contains(err.Error(), "a field's string past the end") {
		t.Errorf("err = %v", err)
	}
}

func TestViewLong(t *testing.T) {
	es := events()
	var in abi.Input
	var v abi.View
	if err := in.Reset(input(t, es)); err != nil || in.View(2, &v) != nil {
		t.Fatal("cannot read event 2")
	}
	for _, tc := range []struct {
		n    int
		want uint32
	}{
		{1, 1<<abi.SlotSourceType | 1<<abi.SlotHost | 1<<abi.SlotContentType | 1<<abi.SlotHTTPMethod | 1<<abi.SlotHTTPPath |
			1<<abi.SlotHTTPQuery | 1<<abi.SlotHTTPProtocol | 1<<abi.SlotHTTPReferrer | 1<<abi.SlotHTTPUserAgent |
			1<<abi.SlotHTTPRemoteAddr | 1<<abi.SlotHTTPRemoteUser},
		{3, 1<<abi.SlotSourceType | 1<<abi.SlotHost | 1<<abi.SlotContentType | 1<<abi.SlotHTTPMethod | 1<<abi.SlotHTTPQuery |
			1<<abi.SlotHTTPProtocol | 1<<abi.SlotHTTPRemoteAddr},
		{8, 1<<abi.SlotHost | 1<<abi.SlotContentType | 1<<abi.SlotHTTPProtocol},
		{10, 1 << abi.SlotContentType},
		{11, 0},
	} {
		if got := v.Long(tc.n); got != tc.want {
			t.Errorf("Long(%d) = %b, want %b", tc.n, got, tc.want)
		}
	}
	// An event without HTTP: its HTTP slots are not looked at, even
	// if not zero.
	b := input(t, es)
	binary.LittleEndian.PutUint32(b[4+1*abi.ViewSize+8*abi.SlotHTTPPath+4:], 40)
	if err := in.Reset(b); err != nil || in.View(1, &v) != nil {
		t.Fatal("cannot read event 1")
	}
	if got, want := v.Long(1), uint32(1<<abi.SlotRaw|1<<abi.SlotFilePath|1<<abi.SlotSyslogHostname|1<<abi.SlotSyslogAppName|
		1<<abi.SlotSyslogProcID|1<<abi.SlotSyslogMsgID|1<<abi.SlotSyslogStructuredData|1<<abi.SlotSyslogMessage); got != want {
		t.Errorf("Long(1) without HTTP = %b, want %b", got, want)
	}
}

// Begin and End write a string straight into the batch: the output is the
// one Set gives for the same strings, also when append moves the batch,
// and a string begun but not ended is dropped by whatever comes next.
func TestWriterBeginEnd(t *testing.T) {
	big := strings.Repeat("x", 5000) // past any capacity the batch has: append moves it
	var byBegin, bySet abi.Writer
	byBegin.Reset()
	bySet.Reset()
	begin := func(from, slot uint32, s string) { byBegin.End(append(byBegin.Begin(from, slot), s...)) }

	begin(0, abi.SlotRaw, "new raw")
	byBegin.Set(0, abi.SlotHost, "h2")
	begin(0, abi.SlotSource, big)
	byBegin.Keep(0, "")
	bySet.Set(0, abi.SlotRaw, "new raw")
	bySet.Set(0, abi.SlotHost, "h2")
	bySet.Set(0, abi.SlotSource, big)
	bySet.Keep(0, "")

	byBegin.Begin(2, abi.SlotRaw) // begun, never ended: dropped by the Set
	byBegin.Set(2, abi.SlotHost, "h1")
	b := byBegin.Begin(2, abi.SlotSource) // dropped by the next Begin
	_ = append(b, "lost"...)
	begin(2, abi.FieldSlot+1, "v2")
	byBegin.Begin(2, abi.SlotSyslogMessage) // dropped by the Keep
	byBegin.Keep(2, "alerts")
	bySet.Set(2, abi.SlotHost, "h1")
	bySet.Set(2, abi.FieldSlot+1, "v2")
	bySet.Keep(2, "alerts")

	begin(1, abi.SlotRaw, "") // an empty string
	byBegin.Keep(1, "")
	bySet.Set(1, abi.SlotRaw, "")
	bySet.Keep(1, "")

	begin(3, abi.SlotRaw, "dropped with its event") // not kept
	byBegin.Begin(4, abi.SlotRaw)                   // dropped by Bytes
	if got, want := byBegin.Bytes(), bySet.Bytes(); !bytes.Equal(got, want) {
		t.Fatalf("with Begin and End:\n%q\nwith Set:\n%q", got, want)
	}
	es := events()
	var got []string
	err := abi.ReadOutput(byBegin.Bytes(), abi.Version, len(es), func(i int) *event.Event { return &es[i] }, func(o *abi.Output) error {
		got = append(got, fmt.Sprintf("%d%s/%d %q %s %d", o.From, o.Route, o.Kind, o.Event.Raw, o.Event.Host, len(o.Event.Source)))
		return nil
	})
	want := []string{`0/1 "new raw" h2 5000`, `2alerts/1 "" h1 0`, `1/1 ""  0`}
	if err != nil || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, %v\nwant %q", got, err, want)
	}

	defer func() {
		if recover() == nil {
			t.Error("End without Begin did not panic")
		}
	}()
	byBegin.End(nil)
}

// Any sequence of Set, Begin and End, a Begin left unended and Keep
// gives the bytes that the same strings Set give.
func FuzzWriterBeginEnd(f *testing.F) {
	// Set, Begin and End, a Begin unended, Keep; then the same to another route.
	f.Add([]byte{0, 1, 4, 3, 'a', 'b', 'c', 1, 1, 11, 2, 'x', 'y', 2, 1, 3, 1, 'z', 3, 1, 0, 0,
		1, 2, 4, 1, 'q', 2, 0, 5, 0, 4, 2, 0, 0})
	f.Add([]byte{1, 0, 4, 200, 3, 0, 4, 1, 2, 2, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var got, want abi.Writer
		got.Reset()
		want.Reset()
		open := -1 // the event whose patch is open in both, or -1
		for len(ops) >= 3 {
			op, from, slot := ops[0]%5, uint32(ops[1]%4), uint32(ops[2]%abi.Slots)
			ops = ops[3:]
			n := 0
			if len(ops) > 0 {
				n = min(int(ops[0]), len(ops)-1)
				ops = ops[1:]
			}
			s := string(ops[:n])
			ops = ops[n:]
			switch op {
			case 0:
				got.Set(from, slot, s)
				want.Set(from, slot, s)
				open = int(from)
			case 1:
				got.End(append(got.Begin(from, slot), s...))
				want.Set(from, slot, s)
				open = int(from)
			case 2: // begun, never ended: dropped by what comes next
				if open >= 0 {
					_ = append(got.Begin(uint32(open), slot), s...)
				}
			case 3, 4:
				route := ""
				if op == 4 {
					route = "r"
				}
				got.Keep(from, route)
				want.Keep(from, route)
				open = -1
			}
		}
		if g, w := got.Bytes(), want.Bytes(); !bytes.Equal(g, w) {
			t.Fatalf("with Begin and End:\n%q\nwith Set:\n%q", g, w)
		}
	})
}

// FuzzEdit: edits of a string, written by Writer.Edit and read back, give
// the string that splicing them in plainly gives; edits past the end fail
// the batch.
func FuzzEdit(f *testing.F) {
	f.Add("<14>1 card 4111111111111111 and 5500000000000004", []byte{11, 16, 10, 33, 16, 10})
	f.Add("", []byte{0, 0, 3, 1, 2, 0})
	f.Fuzz(func(t *testing.T, raw string, ops []byte) {
		es := []event.Event{{Raw: []byte(raw)}}
		var w abi.Writer
		w.Reset()
		want, bad := raw, false
		for ; len(ops) >= 3; ops = ops[3:] {
			off, cut, repl := uint32(ops[0]), uint32(ops[1]), strings.Repeat("x", int(ops[2]%20))
			w.Edit(0, abi.SlotRaw, off, cut, repl)
			if bad = bad || int(off+cut) > len(want); !bad {
				want = want[:off] + repl + want[off+cut:]
			}
		}
		w.Keep(0, "")
		got := ""
		err := abi.ReadOutput(w.Bytes(), abi.Version, 1, func(i int) *event.Event { return &es[i] }, func(o *abi.Output) error {
			got = string(o.Event.Raw)
			return nil
		})
		if bad != (err != nil) || !bad && got != want {
			t.Fatalf("got %q, %v; want %q (an error: %v)", got, err, want, bad)
		}
		if string(es[0].Raw) != raw {
			t.Fatal("the input changed")
		}
	})
}
