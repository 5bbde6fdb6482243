package parse_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/internal/onerror"
	"github.com/sluicehq/sluice/handler/parse"
)

// FuzzJSON checks the json format against encoding/json. Invariants:
//   - it never panics;
//   - a line parses iff encoding/json finds it valid and it is an object
//     (lines nested deeper than the limit aside, which fail);
//   - the fields are encoding/json's values flattened: strings equal
//     (invalid UTF-8 and lone surrogates becoming U+FFFD alike), numbers
//     the same text, arrays the same value, nulls left out;
//   - a line that fails leaves the event as it was.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":{"b":[1,{"c":null}]},"d":"\u00e9\ud800x"}`, `{"a":"\xff"}`, `{}`, `[]`, `{"a":1e400}`,
		`{"a.b":1,"a":{"b":2}}`, `{"a":-0.5E+3,"b":true,"c":false}`, ` {"a" : "b" } `, `{"a":01}`, `{"a":"b",}`} {
		f.Add(s)
	}
	h, err := parse.New(cfg("json"), onerror.Hooks{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line string) {
		in := event.Event{Raw: []byte(line)}
		perr := h.Parse(&in)
		valid := json.Valid([]byte(line)) && strings.HasPrefix(strings.TrimLeft(line, " \t\r\n"), "{")
		if perr != nil && strings.Contains(perr.Error(), "nested too deep") {
			return
		}
		if (perr == nil) != valid {
			t.Fatalf("%q: parse error %v, but encoding/json says valid object = %v", line, perr, valid)
		}
		if perr != nil {
			if in.Fields != nil || string(in.Raw) != line {
				t.Fatalf("%q: failed but changed the event: %+v", line, in)
			}
			return
		}
		d := json.NewDecoder(strings.NewReader(line))
		d.UseNumber()
		var ref map[string]any
		if err := d.Decode(&ref); err != nil {
			t.Fatalf("%q: encoding/json: %v", line, err)
		}
		want := map[string]any{}
		if dupKeys(line) || !flatten(want, "", ref) {
			return // two paths flatten to one name: order decides, which a map lost
		}
		if len(in.Fields) != len(want) {
			t.Fatalf("%q: %d fields %q, want %d: %v", line, len(in.Fields), in.Fields, len(want), want)
		}
		for _, fl := range in.Fields {
			w, ok := want[fl.Name]
			if !ok {
				t.Fatalf("%q: unexpected field %q", line, fl.Name)
			}
			switch w := w.(type) {
			case string:
				if fl.Value != w {
					t.Fatalf("%q: %s = %q, want %q", line, fl.Name, fl.Value, w)
				}
			case []any:
				d := json.NewDecoder(strings.NewReader(fl.Value))
				d.UseNumber()
				var got any
				if err := d.Decode(&got); err != nil || !reflect.DeepEqual(got, w) {
					t.Fatalf("%q: %s = %s (%v), want %v", line, fl.Name, fl.Value, err, w)
				}
			}
		}
	})
}

// dupKeys reports whether an object of the valid JSON line repeats a key:
// encoding/json then keeps the last value whole, the json format each
// field that no later one replaces.
func dupKeys(line string) bool {
	d := json.NewDecoder(strings.NewReader(line))
	type frame struct {
		obj  bool
		keys map[string]bool
		key  bool // the next token in an object is a key
	}
	var stack []*frame
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && top.key {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return true
				}
				top.keys[k] = true
				top.key = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{obj: true, keys: map[string]bool{}, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].obj {
			stack[len(stack)-1].key = true // a value ended
		}
	}
}

// flatten adds v's members to out as the json format names them; false if
// two land on one name.
func flatten(out map[string]any, prefix string, v map[string]any) bool {
	ok := true
	set := func(name string, x any) {
		if _, dup := out[name]; dup {
			ok = false
		}
		out[name] = x
	}
	for k, x := range v {
		switch x := x.(type) {
		case nil:
		case map[string]any:
			if len(x) == 0 {
				set(prefix+k, "{}")
			} else if !flatten(out, prefix+k+".", x) {
				ok = false
			}
		case json.Number:
			set(prefix+k, string(x))
		case bool:
			set(prefix+k, map[bool]string{true: "true", false: "false"}[x])
		default:
			set(prefix+k, x)
		}
	}
	return ok
}

// FuzzFormats feeds any line to every format. Invariants: no panic, no
// error from Handle; a parsed event has fields with non-empty names (or,
// for syslog, a syslog part); one that failed is passed on unchanged.
func FuzzFormats(f *testing.F) {
	for _, s := range []string{"a=1 b=\"x y\"", "1,2,\"3\"", "2024-01-02T03:04:05Z stdout F hi", `{"log":"x","time":"2024-01-02T03:04:05Z"}`,
		"<13>1 2024-01-02T03:04:05Z h a - - - m", "<13>Jan  2 03:04:05 h a[1]: m", "user=bob id=7", "a=\"\\q\""} {
		f.Add(s)
	}
	configs := []*parse.Config{
		cfg("logfmt"), cfg("csv", func(c *parse.Config) { c.Columns = []string{"a", "b", "c"} }), cfg("cri"), cfg("docker"), cfg("syslog"),
		cfg("regex", func(c *parse.Config) { c.Pattern = `(?P<k>\w+)=(?P<v>\d*)` }),
	}
	var hs []*parse.Handler
	for _, c := range configs {
		h, err := parse.New(c, onerror.Hooks{})
		if err != nil {
			f.Fatal(err)
		}
		hs = append(hs, h)
	}
	f.Fuzz(func(t *testing.T, line string) {
		for i, h := range hs {
			in := event.Event{Raw: []byte(line), Fields: fields("x", "y")}
			before := bytes.Clone(in.Raw)
			out, err := h.Handle(context.Background(), sluice.Message[event.Event]{Value: in})
			if err != nil || len(out) != 1 {
				t.Fatalf("%s %q: %d out, %v", configs[i].Format, line, len(out), err)
			}
			got := out[0].Value
			if !bytes.Equal(got.Raw, before) {
				t.Fatalf("%s %q: raw changed", configs[i].Format, line)
			}
			if h.Parse(&event.Event{Raw: []byte(line)}) != nil {
				if !slices.Equal(got.Fields, in.Fields) || got.Syslog.Present || !got.Time.IsZero() {
					t.Fatalf("%s %q: failed but changed the event: %+v", configs[i].Format, line, got)
				}
				continue
			}
			for _, fl := range got.Fields {
				if fl.Name == "" {
					t.Fatalf("%s %q: a field with no name: %q", configs[i].Format, line, got.Fields)
				}
			}
		}
	})
}
