package clickhouse

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

func TestAppendFlat(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{}`, `{}`},
		{`{"a":1}`, `{"a":1}`},
		{`{"a":{"b":"x","c":{"d":[1,{"e":2}],"f":null}},"g":true}`, `{"a.b":"x","a.c.d":[1,{"e":2}],"a.c.f":null,"g":true}`},
		{` { "http" : { "m" : "GET" } , "e" : { } , "s":"{\"}" } `, `{"http.m":"GET","s":"{\"}"}`},
		{`{"f":{"a\"b":"1","a.b":"2"}}`, `{"f.a\"b":"1","f.a.b":"2"}`},
	} {
		got, _, err := appendFlat(nil, nil, []byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("appendFlat(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{``, `[]`, `{"a":1`, `{"a" 1}`, `{"a":1}x`, `{"a":"x}`, `{"a":[1}`, `{a:1}`} {
		if got, _, err := appendFlat([]byte("keep"), nil, []byte(bad)); err == nil || string(got) != "keep" {
			t.Errorf("appendFlat(%s) = %s, %v; want an error and dst unchanged", bad, got, err)
		}
	}
}

// TestEncodeFlat checks that encode flattens exactly the events that
// have nested objects: its output equals appendFlat of AppendJSON for
// each.
func TestEncodeFlat(t *testing.T) {
	at := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	evs := []event.Event{
		{Time: at, Raw: []byte("plain"), Flags: event.ParseError},
		{Time: at, File: event.File{Path: "/a"}},
		{Time: at, Syslog: event.Syslog{Present: true, StructuredData: `[a b="c"]`}},
		{Time: at, HTTP: &event.HTTP{Method: "GET"}},
		{Time: at, Fields: []event.Field{{Name: "k", Value: "v"}}},
	}
	var s scratch
	for _, e := range evs {
		b, err := s.encode([]sluice.Message[event.Event]{{Value: e}}, true, "none")
		if err != nil {
			t.Fatal(err)
		}
		want, _, _ := appendFlat(nil, nil, e.AppendJSON(nil))
		if string(b) != string(want)+"\n" {
			t.Errorf("encode = %s, want %s", b, want)
		}
		if bytes.Count(b, []byte("{")) != 1 {
			t.Errorf("encode left a nested object: %s", b)
		}
	}
}

// FuzzAppendFlat checks appendFlat against a flattening done with
// encoding/json: for every JSON object, the output is valid JSON holding
// each scalar and array under its dotted path, in order, duplicates kept.
func FuzzAppendFlat(f *testing.F) {
	f.Add(`{"a":{"b":"x","c":{"d":[1,{"e":2}]}},"g":true}`)
	f.Add(`{"ts":"2026","syslog":{"structuredData":{"id@1":{"k":"v\"}"}}},"http":{ "status":200}}`)
	f.Fuzz(func(t *testing.T, in string) {
		var probe map[string]any
		if json.Unmarshal([]byte(in), &probe) != nil || probe == nil {
			return
		}
		want, err := flatRef(nil, "", []byte(in))
		if err != nil {
			return
		}
		out, _, err := appendFlat(nil, nil, []byte(in))
		if err != nil {
			t.Fatalf("appendFlat(%s): %v", in, err)
		}
		if !json.Valid(out) {
			t.Fatalf("appendFlat(%s) = %s: not JSON", in, out)
		}
		got, err := flatRef(nil, "", out)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("appendFlat(%s) = %s: %q, want %q (%v)", in, out, got, want, err)
		}
	})
}

// flatRef appends to dst, in order, "path=value" for each member of the
// object obj that is not an object, nested objects walked with dotted
// paths, each value as encoding/json writes it.
func flatRef(dst []string, prefix string, obj []byte) ([]string, error) {
	d := json.NewDecoder(bytes.NewReader(obj))
	if _, err := d.Token(); err != nil {
		return nil, err
	}
	for d.More() {
		k, err := d.Token()
		if err != nil {
			return nil, err
		}
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return nil, err
		}
		if raw[0] == '{' {
			if dst, err = flatRef(dst, prefix+k.(string)+".", raw); err != nil {
				return nil, err
			}
			continue
		}
		var v any
		vd := json.NewDecoder(bytes.NewReader(raw))
		vd.UseNumber()
		if err := vd.Decode(&v); err != nil {
			return nil, err
		}
		b, _ := json.Marshal(v)
		dst = append(dst, prefix+k.(string)+"="+string(b))
	}
	return dst, nil
}

func BenchmarkAppendFlat(b *testing.B) {
	at := time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)
	e := event.Event{Time: at, ReceivedAt: at, Source: "syslog", SourceType: "syslog", Host: "10.0.0.1", Raw: bytes.Repeat([]byte("x"), 250),
		Syslog: event.Syslog{Present: true, Facility: 4, Severity: 2, Version: 1, Hostname: "host", AppName: "app",
			ProcID: "1234", MsgID: "ID47", StructuredData: `[exampleSDID@32473 iut="3" eventSource="App"]`, Message: "user login failed"}}
	obj := e.AppendJSON(nil)
	var dst, path []byte
	b.SetBytes(int64(len(obj)))
	for b.Loop() {
		dst, path, _ = appendFlat(dst[:0], path, obj)
	}
}
