package event_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/event"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 123456789, time.UTC)

func sample() event.Event {
	raw := []byte(`<165>1 2026-11-24T10:00:00.123456789Z web1 nginx 42 ID47 [ex@32473 iut="3" src="a\"b\]c"][meta x="1"] GET / 200`)
	return event.Event{
		Time: t0, ReceivedAt: t0.Add(time.Second), Source: "web", SourceType: "syslog", Host: "127.0.0.1:5514",
		Raw: raw,
		Syslog: event.Syslog{Present: true, Facility: 20, Severity: 5, Version: 1, Hostname: "web1", AppName: "nginx",
			ProcID: "42", MsgID: "ID47", StructuredData: `[ex@32473 iut="3" src="a\"b\]c"][meta x="1"]`, Message: "GET / 200"},
	}
}

func TestAppendJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   func() event.Event
		o    event.JSONOptions
		want string
	}{
		{"syslog", sample, event.JSONOptions{}, `{"ts":"2026-11-24T10:00:00.123456789Z","receivedAt":"2026-11-24T10:00:01.123456789Z","source":"web","sourceType":"syslog","host":"127.0.0.1:5514","raw":"<165>1 2026-11-24T10:00:00.123456789Z web1 nginx 42 ID47 [ex@32473 iut=\"3\" src=\"a\\\"b\\]c\"][meta x=\"1\"] GET / 200","syslog":{"facility":20,"severity":5,"version":1,"hostname":"web1","appName":"nginx","procId":"42","msgId":"ID47","structuredData":{"ex@32473":{"iut":"3","src":"a\"b]c"},"meta":{"x":"1"}},"message":"GET / 200"}}`},
		{"syslog without raw", sample, event.JSONOptions{OmitParsedRaw: true}, `{"ts":"2026-11-24T10:00:00.123456789Z","receivedAt":"2026-11-24T10:00:01.123456789Z","source":"web","sourceType":"syslog","host":"127.0.0.1:5514","syslog":{"facility":20,"severity":5,"version":1,"hostname":"web1","appName":"nginx","procId":"42","msgId":"ID47","structuredData":{"ex@32473":{"iut":"3","src":"a\"b]c"},"meta":{"x":"1"}},"message":"GET / 200"}}`},
		{"parse error keeps raw", func() event.Event {
			ev := sample()
			ev.Syslog = event.Syslog{}
			ev.Raw = []byte("<1>garbage")
			ev.Flags = event.ParseError
			return ev
		}, event.JSONOptions{OmitParsedRaw: true}, `{"ts":"2026-11-24T10:00:00.123456789Z","receivedAt":"2026-11-24T10:00:01.123456789Z","source":"web","sourceType":"syslog","host":"127.0.0.1:5514","raw":"<1>garbage","flags":["parseError"]}`},
		{"unparsed keeps raw", func() event.Event {
			return event.Event{ReceivedAt: t0, Raw: []byte("plain line")}
		}, event.JSONOptions{OmitParsedRaw: true}, `{"ts":"2026-11-24T10:00:00.123456789Z","receivedAt":"2026-11-24T10:00:00.123456789Z","raw":"plain line"}`},
		{"no time falls back to receipt", func() event.Event {
			return event.Event{ReceivedAt: t0, Raw: []byte("x"), Flags: event.ParseError | event.NoTime}
		}, event.JSONOptions{}, `{"ts":"2026-11-24T10:00:00.123456789Z","receivedAt":"2026-11-24T10:00:00.123456789Z","raw":"x","flags":["parseError","noTime"]}`},
		{"binary raw", func() event.Event {
			return event.Event{ReceivedAt: t0, Raw: []byte{0xff, 0x00, 'a'}}
		}, event.JSONOptions{}, `{"ts":"2026-11-24T10:00:00.123456789Z","receivedAt":"2026-11-24T10:00:00.123456789Z","rawBase64":"/wBh"}`},
		{"file, http and fields", func() event.Event {
			return event.Event{ReceivedAt: t0, File: event.File{Path: "/var/log/a.log", Offset: 42},
				HTTP:   &event.HTTP{Method: "GET", Path: "/x", Query: "a=1", Status: 404, Bytes: 12, RequestTime: 0.005, UserAgent: "curl/8"},
				Fields: []event.Field{{Name: "PRIORITY", Value: "6"}, {Name: "_SYSTEMD_UNIT", Value: "ssh.service"}}}
		}, event.JSONOptions{}, `{"ts":"2026-11-24T10:00:00.123456789Z","receivedAt":"2026-11-24T10:00:00.123456789Z","file":{"path":"/var/log/a.log","offset":42},"http":{ "method":"GET","path":"/x","query":"a=1","status":404,"bytes":12,"userAgent":"curl/8","requestTime":0.005},"fields":{"PRIORITY":"6","_SYSTEMD_UNIT":"ssh.service"}}`},
		{"request time: infinite left out", func() event.Event {
			return event.Event{ReceivedAt: t0, HTTP: &event.HTTP{Status: 200, RequestTime: math.Inf(1)}}
		}, event.JSONOptions{}, `{"ts":"2026-11-24T10:00:00.123456789Z","receivedAt":"2026-11-24T10:00:00.123456789Z","http":{ "status":200,"bytes":0}}`},
		{"request time: NaN left out", func() event.Event {
			return event.Event{ReceivedAt: t0, HTTP: &event.HTTP{RequestTime: math.NaN()}}
		}, event.JSONOptions{}, `{"ts":"2026-11-24T10:00:00.123456789Z","receivedAt":"2026-11-24T10:00:00.123456789Z","http":{ "bytes":0}}`},
		{"request time: huge", func() event.Event {
			return event.Event{ReceivedAt: t0, HTTP: &event.HTTP{RequestTime: 1e300}}
		}, event.JSONOptions{}, `{"ts":"2026-11-24T10:00:00.123456789Z","receivedAt":"2026-11-24T10:00:00.123456789Z","http":{ "bytes":0,"requestTime":1e+300}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.ev()
			got := string(ev.AppendJSONWith(nil, tc.o))
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("not valid JSON: %s", got)
			}
		})
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\ nl\n tab\t cr\r", "\x00\x01\x1f\x7f", "é ü 日本", "bad \xff utf8 \xc3", "\u2028\u2029", "<>&"} {
		var back string
		if err := json.Unmarshal(event.AppendString(nil, s), &back); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("%q round-trips to %q, encoding/json gives %q", s, back, wantBack)
		}
	}
}

func TestSyslogParam(t *testing.T) {
	ev := sample()
	for _, tc := range []struct {
		id, name, want string
		ok             bool
	}{
		{"ex@32473", "iut", "3", true},
		{"ex@32473", "src", `a"b]c`, true},
		{"meta", "x", "1", true},
		{"meta", "y", "", false},
		{"none", "x", "", false},
	} {
		if got, ok := ev.Syslog.Param(tc.id, tc.name); got != tc.want || ok != tc.ok {
			t.Errorf("Param(%q, %q) = %q, %v; want %q, %v", tc.id, tc.name, got, ok, tc.want, tc.ok)
		}
	}
	for _, sd := range []string{`[`, `[a`, `[a b`, `[a b="`, `[a b="c`, `[a b=c]`, `]`, `[a b="c\"]`} {
		s := event.Syslog{Present: true, StructuredData: sd}
		out := (&event.Event{Syslog: s}).AppendJSON(nil)
		if !json.Valid(out) {
			t.Errorf("malformed SD %q gives invalid JSON %s", sd, out)
		}
	}
}

func TestAppendJSONAllocatesNothing(t *testing.T) {
	ev := sample()
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf = ev.AppendJSON(buf[:0]) }); n != 0 {
		t.Errorf("AppendJSON allocates %v times per event", n)
	}
}

// FuzzAppendJSON checks AppendJSONWith against encoding/json: its output
// decodes to the same value as encoding/json's encoding of reference's
// map, built from the same event by the rules the package doc states
// (empty fields left out, raw or rawBase64, SD escapes resolved, a
// repeated key's last value wins in both). Every string field can hold
// any bytes, invalid UTF-8 included.
func FuzzAppendJSON(f *testing.F) {
	f.Add([]byte("x"), "host", `[a b="c"]`, "msg", "app", "/p", "k", "v", uint16(0), int64(0), 200, 0.5, int64(0), false)
	f.Add([]byte{0xff}, "\xff", `[a b="\"]`, "\x00", "", "", "", "", uint16(1), int64(7), 0, 0.0, int64(-1), true)
	f.Add([]byte(`<165>1 - - - - - [ex@1 a="1\"2\]" b="\\"][ex@1 c="3"] m`), "\u2028", `[ex@1 a="1\"2\]" b="\\"][ex@1 c="3"]`, "<&>", "a\tb", "/x?y", "", "", uint16(0xffff), int64(-5), 404, 1e300, int64(1<<62), true)
	f.Fuzz(func(t *testing.T, raw []byte, host, sd, msg, app, path, fname, fvalue string, flags uint16, offset int64, status int, reqTime float64, nanos int64, omitRaw bool) {
		ev := event.Event{ReceivedAt: t0, Time: time.Unix(0, nanos), Raw: raw, Host: host, Flags: event.Flags(flags),
			Syslog: event.Syslog{Present: sd != "" || msg != "", Facility: uint8(flags), Severity: uint8(flags >> 8), Version: uint8(flags >> 4),
				AppName: app, StructuredData: sd, Message: msg}}
		if offset != 0 {
			ev.File = event.File{Path: path, Offset: offset}
		}
		if status != 0 || reqTime != 0 {
			ev.HTTP = &event.HTTP{Path: path, Status: status, Bytes: offset, RequestTime: reqTime, UserAgent: host}
		}
		if fname != "" || fvalue != "" {
			ev.Fields = []event.Field{{Name: fname, Value: fvalue}, {Name: "f2", Value: msg}}
		}
		o := event.JSONOptions{OmitParsedRaw: omitRaw}
		out := ev.AppendJSONWith(nil, o)
		var got any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("invalid JSON %q: %v", out, err)
		}
		std, err := json.Marshal(reference(&ev, o))
		if err != nil {
			t.Fatal(err)
		}
		var want any
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("AppendJSON wrote    %s\nencoding/json wrote %s", out, std)
		}
	})
}

// reference is what AppendJSONWith encodes, as a map for encoding/json.
func reference(ev *event.Event, o event.JSONOptions) map[string]any {
	set := func(m map[string]any, k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	m := map[string]any{
		"ts":         ev.Timestamp().UTC().Format(time.RFC3339Nano),
		"receivedAt": ev.ReceivedAt.UTC().Format(time.RFC3339Nano),
	}
	set(m, "source", ev.Source)
	set(m, "sourceType", ev.SourceType)
	set(m, "host", ev.Host)
	set(m, "contentType", ev.ContentType)
	if len(ev.Raw) > 0 && !(o.OmitParsedRaw && ev.Parsed()) {
		if utf8.Valid(ev.Raw) {
			m["raw"] = string(ev.Raw)
		} else {
			m["rawBase64"] = base64.StdEncoding.EncodeToString(ev.Raw)
		}
	}
	if ev.Flags != 0 {
		m["flags"] = append([]string{}, ev.Flags.Names()...)
	}
	if ev.File.Path != "" {
		m["file"] = map[string]any{"path": ev.File.Path, "offset": ev.File.Offset}
	}
	if s := ev.Syslog; s.Present {
		sm := map[string]any{"facility": s.Facility, "severity": s.Severity}
		if s.Version != 0 {
			sm["version"] = s.Version
		}
		set(sm, "hostname", s.Hostname)
		set(sm, "appName", s.AppName)
		set(sm, "procId", s.ProcID)
		set(sm, "msgId", s.MsgID)
		if s.StructuredData != "" {
			sd := map[string]any{}
			for id, params := range s.Elements() {
				p := map[string]any{}
				for name, value := range params {
					p[name] = event.UnescapeSD(value)
				}
				sd[id] = p
			}
			sm["structuredData"] = sd
		}
		set(sm, "message", s.Message)
		m["syslog"] = sm
	}
	if h := ev.HTTP; h != nil {
		hm := map[string]any{"bytes": h.Bytes}
		set(hm, "method", h.Method)
		set(hm, "path", h.Path)
		set(hm, "query", h.Query)
		set(hm, "protocol", h.Protocol)
		if h.Status != 0 {
			hm["status"] = h.Status
		}
		set(hm, "referrer", h.Referrer)
		set(hm, "userAgent", h.UserAgent)
		if h.RequestTime != 0 && !math.IsInf(h.RequestTime, 0) && !math.IsNaN(h.RequestTime) {
			hm["requestTime"] = h.RequestTime
		}
		set(hm, "remoteAddr", h.RemoteAddr)
		set(hm, "remoteUser", h.RemoteUser)
		m["http"] = hm
	}
	if len(ev.Fields) > 0 {
		fm := map[string]any{}
		for _, f := range ev.Fields {
			fm[f.Name] = f.Value
		}
		m["fields"] = fm
	}
	return m
}

// FuzzAppendString checks AppendString byte for byte against
// encoding/json with SetEscapeHTML(false), whose \b and \f it spells
// \u0008 and \u000c (as sluice always has), and against appendQuoted,
// the rule written rune by rune. Any bytes: invalid UTF-8, U+2028 and
// U+2029, control bytes, HTML characters.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain text longer than eight", "quote\" back\\ nl\n", "\x00\x1f\x7f\b\f", "é 日本 \xff\xc3",
		"\u2028x\u2029", "<a href=\"x&y\">", `{"time":"2026-11-24T10:00:00Z","body":"a\"b","attributes":{"k":"v"}}`,
		"\xed\xa0\x80 surrogate, \xf4\x90\x80\x80 too large, \xe2\x80 cut", "ends in \xe2\x80\xa8", "kept \ufffd",
		"abc", "abcd", "sshd", "62728", "dockerd", "id\"47", "tab\tx", "se\\ven", "\xc3\xa9abc", "abcdef\x01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := string(event.AppendString(nil, s))
		if want := appendQuoted(s); got != want {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
		var std bytes.Buffer
		enc := json.NewEncoder(&std)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if want := sluiceSpelling(strings.TrimSuffix(std.String(), "\n")); got != want {
			t.Fatalf("%q: got %s, encoding/json wrote %s", s, got, want)
		}
		if b := event.AppendString(nil, []byte(s)); string(b) != got {
			t.Fatalf("%q: []byte gives %s, string %s", s, b, got)
		}
		// Into spare capacity holding other bytes: short runs are stored
		// a word at a time there, and what lies past them must not show.
		if b := event.AppendString(spare(len(got)), s); string(b[1:]) != got {
			t.Fatalf("%q: into spare capacity gives %s, want %s", s, b[1:], got)
		}
	})
}

// spare returns a one-byte buffer with capacity for n more bytes and
// some, that capacity filled with bytes no encoder writes.
func spare(n int) []byte {
	return bytes.Repeat([]byte{0xfe}, n+64)[:1]
}

// appendQuoted is AppendString's rule, one rune at a time.
func appendQuoted(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		s = s[n:]
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20, r == '\u2028', r == '\u2029', r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// sluiceSpelling rewrites encoding/json's \b and \f in the JSON string
// q as \u0008 and \u000c.
func sluiceSpelling(q string) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if q[i] != '\\' {
			b.WriteByte(q[i])
			continue
		}
		i++
		switch q[i] {
		case 'b':
			b.WriteString(`\u0008`)
		case 'f':
			b.WriteString(`\u000c`)
		default:
			b.WriteByte('\\')
			b.WriteByte(q[i])
		}
	}
	return b.String()
}

func BenchmarkAppendJSON(b *testing.B) {
	ev := sample()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = ev.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkAppendString(b *testing.B) {
	msg := strings.Repeat("the quick brown fox jumps over the lazy dog ", 4) // 176 plain bytes
	buf := make([]byte, 0, 512)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		buf = event.AppendString(buf[:0], msg)
	}
}

// parsedP1 is the bench harness's P1 event: a parsed RFC 5424 line
// without structured data.
func parsedP1() event.Event {
	raw := []byte("<56>1 2026-11-24T10:00:00.145051Z host33 cron 11916 ID97 - seq=0000000000 udaxihhexdvxrcsnbacghqtargwuwrnhosizayzfwnkiegykdcmdlltizbxordmcrj utlsgwcbvhyjchdmiou lfllgviwvuctufrxhfomiuwrhvk yybh bzkmicgswkgupmuoeiehxrrixsnsml")
	return event.Event{Time: t0, ReceivedAt: t0.Add(time.Second), Source: "in", SourceType: "syslog", Host: "127.0.0.1:43966", Raw: raw,
		Syslog: event.Syslog{Present: true, Facility: 7, Version: 1, Hostname: "host33", AppName: "cron", ProcID: "11916", MsgID: "ID97",
			Message: string(raw[60:])}}
}

// BenchmarkAppendJSONParsed is the bench harness's P1 event: a parsed RFC
// 5424 line without structured data, written without its raw bytes.
func BenchmarkAppendJSONParsed(b *testing.B) {
	ev := parsedP1()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = ev.AppendJSONWith(buf[:0], event.JSONOptions{OmitParsedRaw: true})
	}
	b.SetBytes(int64(len(buf)))
}

// TestAppendStringEveryPlace puts each kind of byte that needs escaping,
// or is not ASCII, at every place of strings of 1 to 40 bytes (the short
// loop, the two words of 8 to 16 bytes, the scans), checked against
// appendQuoted.
func TestAppendStringEveryPlace(t *testing.T) {
	for n := 1; n <= 40; n++ {
		for i := range n {
			for _, c := range []string{"\"", "\\", "\x00", "\x1f", "\x7f", "é", "\xff", "\u2028"} {
				s := strings.Repeat("a", i) + c + strings.Repeat("b", n-i-1)
				if got, want := string(event.AppendString(nil, s)), appendQuoted(s); got != want {
					t.Fatalf("%q: got %s, want %s", s, got, want)
				}
			}
		}
	}
}
