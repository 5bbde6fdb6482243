package clickhouse

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/sluicehq/sluice/connector/internal/storetest"
	"github.com/sluicehq/sluice/event"
)

// flatOld is a row as the encoder wrote it before appendRow: the event's
// JSON, flattened by reading it back.
func flatOld(t testing.TB, e *event.Event) string {
	t.Helper()
	out, _, err := appendFlat(nil, nil, e.AppendJSON(nil))
	if err != nil {
		t.Fatalf("appendFlat(%s): %v", e.AppendJSON(nil), err)
	}
	return string(out)
}

// TestAppendRowRealistic checks appendRow against the old path on the
// benchmark's 10,000 realistic events (syslog RFC 3164 and 5424 with
// structured data; HTTP fields are left to TestAppendRow and the fuzz
// target, as the syslog source does not parse nginx lines) and the
// padded ones.
func TestAppendRowRealistic(t *testing.T) {
	at := time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)
	msgs := append(storetest.Realistic(storetest.Pool, at), storetest.Padded(100, at)...)
	var dst []byte
	sd := 0
	for i := range msgs {
		e := &msgs[i].Value
		dst = appendRow(dst[:0], e)
		if want := flatOld(t, e); string(dst) != want {
			t.Fatalf("event %d: appendRow = %s\nwant %s", i, dst, want)
		}
		if e.Syslog.StructuredData != "" {
			sd++
		}
	}
	if sd == 0 {
		t.Fatal("no event with structured data: the check missed a path")
	}
}

// TestAppendRow checks the parts the realistic events lack: file
// positions, fields, escapes in names and values, SD escapes, elements
// without params, malformed SD, raw bytes that are not UTF-8, odd floats.
func TestAppendRow(t *testing.T) {
	at := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	for _, e := range []event.Event{
		{Time: at, File: event.File{Path: `/var/log/a "b".log`, Offset: 1 << 40}, Raw: []byte("line")},
		{Time: at, Fields: []event.Field{{Name: "MESSAGE", Value: "m"}, {Name: `a"b\c.d`, Value: "\x00\u2028<>"}, {Name: "", Value: ""}}},
		{Time: at, Raw: []byte("\xff\xfe not utf-8"), Flags: event.ParseError | event.Truncated,
			Syslog: event.Syslog{Present: true, Message: "\xff"}},
		{Time: at, Syslog: event.Syslog{Present: true, Version: 1, Facility: 23, Severity: 7, Hostname: "h", AppName: "a", ProcID: "1", MsgID: "m",
			StructuredData: `[empty][id@1 a="x\"y" b="\\\]" c="\n\t"][ok k="v"]`, Message: "m"}},
		{Time: at, Syslog: event.Syslog{Present: true, StructuredData: `[a b="c"] garbage`}},
		{Time: at, Syslog: event.Syslog{Present: true, StructuredData: `[a b="unterminated]`}},
		{Time: at, Syslog: event.Syslog{Present: true, StructuredData: `[i"d k="v"][x y=z]`}},
		{Time: at, HTTP: &event.HTTP{RequestTime: 1e-9}},
		{Time: at, HTTP: &event.HTTP{RequestTime: 3e22, Status: 404, Bytes: -1, Query: "a=1&b=<2>"}},
		{Time: at, HTTP: &event.HTTP{RequestTime: 0.123}},
	} {
		got := appendRow(nil, &e)
		if want := flatOld(t, &e); string(got) != want {
			t.Errorf("appendRow = %s\nwant %s", got, want)
		}
		if strings.Count(string(got), "{") != 1 {
			t.Errorf("appendRow left a nested object: %s", got)
		}
	}
}

// TestAppendRowKnowsEveryField fails when event.Event, or one of the
// structs appendRow writes member by member, gains a field: it would be
// left out of the rows without this.
func TestAppendRowKnowsEveryField(t *testing.T) {
	for _, tc := range []struct {
		typ   reflect.Type
		known []string
	}{
		{reflect.TypeFor[event.Event](), []string{"Time", "ReceivedAt", "Source", "SourceType", "Host", "ContentType", "Raw", "Flags", "File", "Syslog", "HTTP", "Fields"}},
		{reflect.TypeFor[event.File](), []string{"Path", "Offset"}},
		{reflect.TypeFor[event.Syslog](), []string{"Present", "Facility", "Severity", "Version", "Hostname", "AppName", "ProcID", "MsgID", "StructuredData", "Message"}},
		{reflect.TypeFor[event.HTTP](), []string{"Method", "Path", "Query", "Protocol", "Status", "Bytes", "Referrer", "UserAgent", "RequestTime", "RemoteAddr", "RemoteUser"}},
		{reflect.TypeFor[event.Field](), []string{"Name", "Value"}},
	} {
		var got []string
		for _, f := range reflect.VisibleFields(tc.typ) {
			got = append(got, f.Name)
		}
		if !slices.Equal(got, tc.known) {
			t.Errorf("%v has fields %v, appendRow knows %v: write the new ones in appendRow and its tests", tc.typ, got, tc.known)
		}
	}
}

// FuzzAppendRow checks appendRow against the old path (the event's JSON
// flattened by reading it back) for events built from arbitrary strings,
// and for events whose fields are cut from the raw bytes, as a parser's
// are (anywhere: before, inside, across or after what needed escaping):
// the same row, byte for byte.
func FuzzAppendRow(f *testing.F) {
	f.Add([]byte("<13>Dec  6 00:00:00 h app[1]: m"), "h", "app", `[id@1 k="v\"]"][e]`, "msg", "GET", "/p", "k", "v", 0.5, int64(7))
	f.Add([]byte("\xff"), "", "", `[`, "", "", "", `a"b`, "\x00", 1e-7, int64(-1))
	f.Add([]byte(`<190>Nov 24 23:00:00 web-03 nginx: 203.0.113.7 - - [24/Nov/2026:23:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8" 0.1`), "", "", "", "", "", "", "", "", 0.0, int64(0x0a06_7324_1b15_0a06)) // the message from the address to the end, quotes included
	f.Fuzz(func(t *testing.T, raw []byte, host, app, sd, msg, method, path, name, value string, rt float64, n int64) {
		at := time.Unix(n%(1<<33), n%1e9).UTC()
		for _, e := range []event.Event{
			{Time: at, Host: host, Raw: raw, File: event.File{Path: path, Offset: n}},
			{Time: at, Raw: raw, Syslog: event.Syslog{Present: true, Severity: uint8(n), Version: uint8(n >> 8), Hostname: host, AppName: app,
				ProcID: name, MsgID: value, StructuredData: sd, Message: msg}},
			{ReceivedAt: at, Raw: raw, Flags: event.Flags(n), HTTP: &event.HTTP{Method: method, Path: path, Query: msg, Status: int(n),
				Bytes: n, UserAgent: app, RequestTime: rt, RemoteAddr: host}},
			{Time: at, Fields: []event.Field{{Name: name, Value: value}, {Name: app, Value: msg}}},
			{Time: at, Raw: raw, Syslog: event.Syslog{Present: true, Hostname: cut(raw, n), AppName: cut(raw, n>>16),
				Message: cut(raw, n>>32)}, HTTP: &event.HTTP{Path: cut(raw, n>>48), UserAgent: cut(raw, n>>8)},
				Fields: []event.Field{{Name: "f", Value: cut(raw, n>>24)}}},
		} {
			got := appendRow(nil, &e)
			if want := flatOld(t, &e); string(got) != want {
				t.Fatalf("appendRow = %s\nwant %s", got, want)
			}
		}
	})
}

// cut returns a part of raw as a string that points into it, as a
// parser's fields do: from and to are the low and high byte of x, modulo
// len(raw)+1.
func cut(raw []byte, x int64) string {
	i, j := int(uint8(x))%(len(raw)+1), int(uint8(x>>8))%(len(raw)+1)
	if i > j {
		i, j = j, i
	}
	if i == j {
		return ""
	}
	return unsafe.String(&raw[i], j-i)
}

// BenchmarkEncode measures what one event costs to encode, on the
// benchmark's realistic events: a flattened row built straight from the
// event (appendRow), as the encoder built it before (the event's JSON,
// read back by appendFlat), and the nested JSON alone (nested
// "objects"). One op is one event.
func BenchmarkEncode(b *testing.B) {
	msgs := storetest.Realistic(storetest.Pool, time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC))
	each := func(b *testing.B, f func(dst []byte, e *event.Event) []byte) {
		var dst []byte
		i := 0
		for b.Loop() {
			dst = f(dst[:0], &msgs[i].Value)
			if i++; i == len(msgs) {
				i = 0
			}
		}
	}
	var obj, path []byte
	b.Run("appendRow", func(b *testing.B) {
		each(b, func(dst []byte, e *event.Event) []byte { return appendRow(dst, e) })
	})
	b.Run("appendFlat", func(b *testing.B) {
		each(b, func(dst []byte, e *event.Event) []byte {
			obj = e.AppendJSON(obj[:0])
			dst, path, _ = appendFlat(dst, path, obj)
			return dst
		})
	})
	b.Run("objects", func(b *testing.B) {
		each(b, func(dst []byte, e *event.Event) []byte { return e.AppendJSON(dst) })
	})
}
