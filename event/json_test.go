package event_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

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

func FuzzAppendJSON(f *testing.F) {
	f.Add([]byte("x"), "host", `[a b="c"]`, "msg")
	f.Add([]byte{0xff}, "\xff", `[a b="\"]`, "\x00")
	f.Fuzz(func(t *testing.T, raw []byte, host, sd, msg string) {
		ev := event.Event{ReceivedAt: t0, Raw: raw, Host: host, Syslog: event.Syslog{Present: true, StructuredData: sd, Message: msg}}
		out := ev.AppendJSON(nil)
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("invalid JSON %q: %v", out, err)
		}
		if r, ok := m["raw"].(string); ok && r != string(raw) {
			t.Fatalf("raw %q decoded as %q", raw, r)
		}
		if !strings.HasPrefix(string(out), `{"ts":"`) {
			t.Fatal("bad prefix")
		}
	})
}

// FuzzAppendString checks that AppendString's output decodes to what
// encoding/json's does (invalid UTF-8 becomes U+FFFD in both).
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain text longer than eight", "quote\" back\\ nl\n", "\x00\x1f\x7f", "é 日本 \xff\xc3", "\u2028x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got, want string
		if err := json.Unmarshal(event.AppendString(nil, s), &got); err != nil {
			t.Fatalf("%q: invalid JSON: %v", s, err)
		}
		std, _ := json.Marshal(s)
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("%q decoded as %q, encoding/json's as %q", s, got, want)
		}
		if b := event.AppendString(nil, []byte(s)); string(b) != string(event.AppendString(nil, s)) {
			t.Fatalf("%q: []byte and string differ", s)
		}
	})
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

// BenchmarkAppendJSONParsed is the bench harness's P1 event: a parsed RFC
// 5424 line without structured data, written without its raw bytes.
func BenchmarkAppendJSONParsed(b *testing.B) {
	raw := []byte("<56>1 2026-11-24T10:00:00.145051Z host33 cron 11916 ID97 - seq=0000000000 udaxihhexdvxrcsnbacghqtargwuwrnhosizayzfwnkiegykdcmdlltizbxordmcrj utlsgwcbvhyjchdmiou lfllgviwvuctufrxhfomiuwrhvk yybh bzkmicgswkgupmuoeiehxrrixsnsml")
	ev := event.Event{Time: t0, ReceivedAt: t0.Add(time.Second), Source: "in", SourceType: "syslog", Host: "127.0.0.1:43966", Raw: raw,
		Syslog: event.Syslog{Present: true, Facility: 7, Version: 1, Hostname: "host33", AppName: "cron", ProcID: "11916", MsgID: "ID97",
			Message: string(raw[60:])}}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = ev.AppendJSONWith(buf[:0], event.JSONOptions{OmitParsedRaw: true})
	}
	b.SetBytes(int64(len(buf)))
}
