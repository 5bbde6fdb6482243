package parse_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/internal/onerror"
	"github.com/sluicehq/sluice/handler/parse"
)

func cfg(format string, edit ...func(*parse.Config)) *parse.Config {
	c := parse.Defaults()
	c.Format = format
	for _, f := range edit {
		f(c)
	}
	return c
}

func fields(kv ...string) []event.Field {
	var fs []event.Field
	for i := 0; i < len(kv); i += 2 {
		fs = append(fs, event.Field{Name: kv[i], Value: kv[i+1]})
	}
	return fs
}

func TestParse(t *testing.T) {
	ts := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)
	for _, tc := range []struct {
		name string
		c    *parse.Config
		in   event.Event
		want []event.Field
		time time.Time
	}{
		{"json flat", cfg("json"), event.Event{Raw: []byte(`{"level":"info","n":42,"ok":true,"x":null,"f":-1.5e3}`)},
			fields("level", "info", "n", "42", "ok", "true", "f", "-1.5e3"), time.Time{}},
		{"json nested and arrays", cfg("json"), event.Event{Raw: []byte(` {"user":{"id":"7","tags":["a", "b"],"o":{}},"e":{} } `)},
			fields("user.id", "7", "user.tags", `["a", "b"]`, "user.o", "{}", "e", "{}"), time.Time{}},
		{"json escapes", cfg("json"), event.Event{Raw: []byte(`{"m":"a\"b\\c\n\u00e9\ud83d\ude00\ud800","k\u0041":"v"}`)},
			fields("m", "a\"b\\c\né😀\uFFFD", "kA", "v"), time.Time{}},
		{"json duplicate key: the last wins", cfg("json"), event.Event{Raw: []byte(`{"a":"1","b":"2","a":"3"}`)},
			fields("a", "3", "b", "2"), time.Time{}},
		{"json replaces an existing field, keeps others", cfg("json"), event.Event{Raw: []byte(`{"a":"new"}`), Fields: fields("a", "old", "z", "1")},
			fields("a", "new", "z", "1"), time.Time{}},
		{"json target prefix", cfg("json", func(c *parse.Config) { c.Target = "fields.j" }), event.Event{Raw: []byte(`{"a":{"b":1}}`)},
			fields("j.a.b", "1"), time.Time{}},
		{"json of the syslog message", cfg("json"), event.Event{Raw: []byte(`<13>1 - - - - - - {"a":1}`), Syslog: event.Syslog{Present: true, Message: `{"a":1}`}},
			fields("a", "1"), time.Time{}},
		{"json of a field", cfg("json", func(c *parse.Config) { c.Field = "fields.message" }), event.Event{Fields: fields("message", `{"a":"b"}`)},
			fields("message", `{"a":"b"}`, "a", "b"), time.Time{}},
		{"logfmt", cfg("logfmt"), event.Event{Raw: []byte(`at=info method=GET path="/a b" msg="say \"hi\"" debug  dur=1.5ms` + "\n")},
			fields("at", "info", "method", "GET", "path", "/a b", "msg", `say "hi"`, "debug", "true", "dur", "1.5ms"), time.Time{}},
		{"regex", cfg("regex", func(c *parse.Config) {
			c.Pattern = `^(?P<user>\w+) logged in from (?P<ip>[\d.]+)(?: port (?P<port>\d+))?`
		}),
			event.Event{Raw: []byte("alice logged in from 10.0.0.1")}, fields("user", "alice", "ip", "10.0.0.1"), time.Time{}},
		{"csv", cfg("csv", func(c *parse.Config) { c.Columns = []string{"a", "b", "c"} }),
			event.Event{Raw: []byte(`1,"two, with comma",""` + "\n")}, fields("a", "1", "b", "two, with comma", "c", ""), time.Time{}},
		{"csv delimiter", cfg("csv", func(c *parse.Config) { c.Columns = []string{"a", "b"}; c.Delimiter = "\t" }),
			event.Event{Raw: []byte("x\ty")}, fields("a", "x", "b", "y"), time.Time{}},
		{"cri", cfg("cri"), event.Event{Raw: []byte("2024-01-02T03:04:05.123456789Z stderr F oops: it failed\n"), Flags: event.NoTime},
			fields("stream", "stderr", "logtag", "F", "message", "oops: it failed"), ts},
		{"cri partial, empty", cfg("cri"), event.Event{Raw: []byte("2024-01-02T03:04:05.123456789Z stdout P")},
			fields("stream", "stdout", "logtag", "P", "message", ""), ts},
		{"docker", cfg("docker"), event.Event{Raw: []byte(`{"log":"hello\n","stream":"stdout","attrs":{"tag":"web"},"time":"2024-01-02T03:04:05.123456789Z"}`)},
			fields("message", "hello", "stream", "stdout", "attrs.tag", "web"), ts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var failed []error
			h, err := parse.New(tc.c, onerror.Hooks{Failed: func(err error) { failed = append(failed, err) }})
			if err != nil {
				t.Fatal(err)
			}
			before := slices.Clone(tc.in.Fields)
			out, err := h.Handle(context.Background(), sluice.Message[event.Event]{Value: tc.in})
			if err != nil || len(out) != 1 || failed != nil {
				t.Fatalf("Handle = %d messages, %v; failures %v", len(out), err, failed)
			}
			got := out[0].Value
			if !slices.Equal(got.Fields, tc.want) {
				t.Errorf("fields = %q, want %q", got.Fields, tc.want)
			}
			if !got.Time.Equal(tc.time) {
				t.Errorf("time = %v, want %v", got.Time, tc.time)
			}
			if !tc.time.IsZero() && got.Flags.Has(event.NoTime) {
				t.Error("noTime still set after the time was parsed")
			}
			if !slices.Equal(tc.in.Fields, before) {
				t.Errorf("the input's fields changed to %q", tc.in.Fields)
			}
		})
	}
}

func TestParseSyslog(t *testing.T) {
	h, err := parse.New(cfg("syslog"), onerror.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	in := event.Event{Raw: []byte(`<34>1 2024-01-02T03:04:05Z web app 12 ID1 [x@1 a="1"] hello there`), Flags: event.NoTime}
	out, _ := h.Handle(context.Background(), sluice.Message[event.Event]{Value: in})
	want := event.Syslog{Present: true, Facility: 4, Severity: 2, Version: 1, Hostname: "web", AppName: "app", ProcID: "12", MsgID: "ID1",
		StructuredData: `[x@1 a="1"]`, Message: "hello there"}
	if got := out[0].Value; got.Syslog != want || !got.Time.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) || got.Flags.Has(event.NoTime) {
		t.Errorf("got %+v at %v (flags %v), want %+v", got.Syslog, got.Time, got.Flags.Names(), want)
	}
}

// A line that does not parse is kept unchanged, dropped, or marked for the
// dead letter, and counted in every case.
func TestUnparsed(t *testing.T) {
	bad := []struct {
		c  *parse.Config
		in string
	}{
		{cfg("json"), `{"a":1`},
		{cfg("json"), `[1,2]`},
		{cfg("json"), `{"a":1} trailing`},
		{cfg("json"), `{"a":01}`},
		{cfg("json"), `{"a":"ctl` + "\x01" + `"}`},
		{cfg("json"), `{"a":"\x"}`},
		{cfg("json"), strings.Repeat(`{"a":`, 70) + "1" + strings.Repeat("}", 70)},
		{cfg("json"), ``},
		{cfg("logfmt"), `just some prose`},
		{cfg("logfmt"), `a="unterminated`},
		{cfg("logfmt"), `=value`},
		{cfg("regex", func(c *parse.Config) { c.Pattern = `^(?P<n>\d+)$` }), `abc`},
		{cfg("csv", func(c *parse.Config) { c.Columns = []string{"a", "b"} }), `1,2,3`},
		{cfg("csv", func(c *parse.Config) { c.Columns = []string{"a", "b"} }), "1,2\n3,4"},
		{cfg("csv", func(c *parse.Config) { c.Columns = []string{"a", "b"} }), `1,"2`},
		{cfg("cri"), `2024-01-02 stdout F x`},
		{cfg("cri"), `2024-01-02T03:04:05Z stdin F x`},
		{cfg("docker"), `{"log":"x"}`},
		{cfg("docker"), `{"log":"x","time":"yesterday"}`},
		{cfg("syslog"), `<999>1 - - - - - -`},
	}
	for _, tc := range bad {
		for _, policy := range []string{"keep", "drop", "deadLetter"} {
			t.Run(tc.c.Format+"/"+policy, func(t *testing.T) {
				c := *tc.c
				c.OnError = policy
				var failed, dropped int
				h, err := parse.New(&c, onerror.Hooks{
					Failed:  func(error) { failed++ },
					Dropped: func() { dropped++ },
					Reject: func(m sluice.Message[event.Event], reason string) sluice.Message[event.Event] {
						m.Attributes = m.Attributes.With("rejected", reason)
						return m
					},
				})
				if err != nil {
					t.Fatal(err)
				}
				in := event.Event{Raw: []byte(tc.in), Fields: fields("keep", "me")}
				out, err := h.Handle(context.Background(), sluice.Message[event.Event]{Value: in})
				if err != nil || failed != 1 {
					t.Fatalf("%q: err %v, %d failures counted, want nil and 1", tc.in, err, failed)
				}
				switch policy {
				case "drop":
					if len(out) != 0 || dropped != 1 {
						t.Errorf("%q: %d out, %d dropped, want 0 and 1", tc.in, len(out), dropped)
					}
					return
				case "deadLetter":
					if len(out) != 1 || out[0].Attributes.Value("rejected") == "" {
						t.Errorf("%q: not marked for the dead letter: %+v", tc.in, out)
					}
				}
				if len(out) != 1 || string(out[0].Value.Raw) != tc.in || !slices.Equal(out[0].Value.Fields, in.Fields) ||
					out[0].Value.Syslog.Present || !out[0].Value.Time.IsZero() {
					t.Errorf("%q: event changed: %+v", tc.in, out)
				}
			})
		}
	}
}

func TestMissingField(t *testing.T) {
	var reason error
	h, _ := parse.New(cfg("json", func(c *parse.Config) { c.Field = "fields.body" }), onerror.Hooks{Failed: func(err error) { reason = err }})
	out, _ := h.Handle(context.Background(), sluice.Message[event.Event]{Value: event.Event{Raw: []byte(`{}`)}})
	if len(out) != 1 || reason == nil || !strings.Contains(reason.Error(), "missing") {
		t.Errorf("got %d out, reason %v; want the event kept and a reason saying the field is missing", len(out), reason)
	}
}

func TestBadConfig(t *testing.T) {
	for _, tc := range []struct {
		c    *parse.Config
		want string
	}{
		{cfg("xml"), `format: want json, logfmt, regex, csv, cri, docker or syslog, got "xml"`},
		{cfg("json", func(c *parse.Config) { c.Field = "fields" }), `field: unknown field "fields"`},
		{cfg("json", func(c *parse.Config) { c.Target = "http" }), `target: want "fields" or "fields.PREFIX"`},
		{cfg("json", func(c *parse.Config) { c.Target = "fields." }), `target: want`},
		{cfg("json", func(c *parse.Config) { c.OnError = "ignore" }), `onError: want keep, drop or deadLetter, got "ignore"`},
		{cfg("json", func(c *parse.Config) { c.Pattern = "x" }), `pattern: only for format regex`},
		{cfg("regex"), `pattern: required`},
		{cfg("regex", func(c *parse.Config) { c.Pattern = "(" }), `pattern: error parsing regexp`},
		{cfg("regex", func(c *parse.Config) { c.Pattern = `(\d+)` }), `pattern: no named group`},
		{cfg("csv"), `columns: required`},
		{cfg("csv", func(c *parse.Config) { c.Columns = []string{"a", ""} }), `columns[1]: empty name`},
		{cfg("csv", func(c *parse.Config) { c.Columns = []string{"a"}; c.Delimiter = ";;" }), `delimiter: want one character`},
		{cfg("syslog", func(c *parse.Config) { c.Target = "fields.s" }), `target: format syslog sets the event's syslog part`},
	} {
		_, err := parse.New(tc.c, onerror.Hooks{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.c, err, tc.want)
		}
	}
}
