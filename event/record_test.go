package event_test

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/event"
)

// typical returns a syslog event as the syslog source builds it from a
// 250-byte RFC 5424 line: the parsed strings point into Raw.
func typical() event.Event {
	line := `<165>1 2026-11-24T10:00:00.123456Z web-01.example.com nginx 4242 ACCESS [origin@32473 ip="10.1.2.3" env="prod"][meta sequenceId="1234"] 10.9.8.7 - - "GET /api/v1/items?page=2&limit=50 HTTP/1.1" 200 5123 "-" "Mozilla/5.0 (X11; Linux x86_64)" 0.004`
	raw := []byte(line)
	at := func(s string) string {
		i := strings.Index(line, s)
		return string(raw[i : i+len(s)]) // a copy, but as long as the real one
	}
	return event.Event{
		Time: time.Date(2026, 11, 24, 10, 0, 0, 123456000, time.UTC), ReceivedAt: t0,
		Source: "syslog-udp", SourceType: "syslog", Host: "10.1.2.3:51514", ContentType: "nginx",
		Raw: raw,
		Syslog: event.Syslog{Present: true, Facility: 20, Severity: 5, Version: 1,
			Hostname: at("web-01.example.com"), AppName: at("nginx"), ProcID: at("4242"), MsgID: at("ACCESS"),
			StructuredData: at(`[origin@32473 ip="10.1.2.3" env="prod"][meta sequenceId="1234"]`),
			Message:        at(`10.9.8.7 - - "GET /api/v1/items?page=2&limit=50 HTTP/1.1" 200 5123 "-" "Mozilla/5.0 (X11; Linux x86_64)" 0.004`)},
	}
}

// diffEvents returns the differences between got and want, field by field:
// times with Equal, Raw with bytes.Equal, HTTP's RequestTime by its bits,
// and Fields without telling nil from empty.
func diffEvents(got, want *event.Event) []string {
	var d []string
	check := func(name string, ok bool, g, w any) {
		if !ok {
			d = append(d, fmt.Sprintf("%s: got %#v, want %#v", name, g, w))
		}
	}
	checkTime := func(name string, g, w time.Time) {
		check(name, g.Equal(w) && g.IsZero() == w.IsZero(), g, w)
	}
	checkTime("Time", got.Time, want.Time)
	checkTime("ReceivedAt", got.ReceivedAt, want.ReceivedAt)
	check("Source", got.Source == want.Source, got.Source, want.Source)
	check("SourceType", got.SourceType == want.SourceType, got.SourceType, want.SourceType)
	check("Host", got.Host == want.Host, got.Host, want.Host)
	check("ContentType", got.ContentType == want.ContentType, got.ContentType, want.ContentType)
	check("Raw", bytes.Equal(got.Raw, want.Raw), got.Raw, want.Raw)
	check("Flags", got.Flags == want.Flags, got.Flags, want.Flags)
	check("File", got.File == want.File, got.File, want.File)
	check("Syslog", got.Syslog == want.Syslog, got.Syslog, want.Syslog)
	switch g, w := got.HTTP, want.HTTP; {
	case g == nil || w == nil:
		check("HTTP", g == w, g, w)
	default:
		gc, wc := *g, *w
		check("HTTP.RequestTime", math.Float64bits(gc.RequestTime) == math.Float64bits(wc.RequestTime), gc.RequestTime, wc.RequestTime)
		gc.RequestTime, wc.RequestTime = 0, 0
		check("HTTP", gc == wc, gc, wc)
	}
	check("Fields", len(got.Fields) == len(want.Fields), got.Fields, want.Fields)
	for i := range min(len(got.Fields), len(want.Fields)) {
		check(fmt.Sprintf("Fields[%d]", i), got.Fields[i] == want.Fields[i], got.Fields[i], want.Fields[i])
	}
	return d
}

func roundTripCases() []struct {
	name string
	ev   event.Event
} {
	pre1970 := time.Date(1969, 7, 20, 20, 17, 40, 999_999_999, time.UTC)
	paris := time.FixedZone("CET", 3600)
	return []struct {
		name string
		ev   event.Event
	}{
		{"zero", event.Event{}},
		{"syslog with SD", sample()},
		{"typical", typical()},
		{"syslog present and empty", event.Event{Syslog: event.Syslog{Present: true}}},
		{"syslog fields but not present", event.Event{Syslog: event.Syslog{Severity: 3, Message: "m"}}},
		{"file", event.Event{ReceivedAt: t0, SourceType: "file", Raw: []byte("line"),
			File: event.File{Path: "/var/log/a.log", Offset: math.MaxInt64}}},
		{"negative offset", event.Event{File: event.File{Offset: -1}}},
		{"http", event.Event{ReceivedAt: t0, HTTP: &event.HTTP{Method: "GET", Path: "/x", Query: "y=1&z", Protocol: "HTTP/2.0",
			Status: -1, Bytes: math.MinInt64, Referrer: "https://a/", UserAgent: "curl/8", RequestTime: 0.005,
			RemoteAddr: "10.0.0.1", RemoteUser: "bob"}}},
		{"http zero", event.Event{HTTP: &event.HTTP{}}},
		{"http -0", event.Event{HTTP: &event.HTTP{RequestTime: math.Copysign(0, -1)}}},
		{"http NaN with payload", event.Event{HTTP: &event.HTTP{RequestTime: math.Float64frombits(0x7ff8000000000001)}}},
		{"http inf", event.Event{HTTP: &event.HTTP{RequestTime: math.Inf(-1), Status: math.MaxInt32}}},
		{"fields", event.Event{ReceivedAt: t0, Fields: []event.Field{{"PRIORITY", "6"}, {"", ""}, {"_SYSTEMD_UNIT", "ssh.service"}}}},
		{"empty fields", event.Event{Fields: []event.Field{}}},
		{"non-UTF-8 raw", event.Event{Raw: []byte{0xff, 0x00, 0xc3, 'a'}, Host: "\xff\xfe"}},
		{"empty raw", event.Event{Raw: []byte{}}},
		{"all flags", event.Event{Flags: math.MaxUint16}},
		{"monotonic times", event.Event{Time: time.Now(), ReceivedAt: time.Now().Add(time.Hour)}},
		{"times in a zone", event.Event{Time: t0.In(paris), ReceivedAt: t0.In(time.Local)}},
		{"before 1970", event.Event{Time: pre1970, ReceivedAt: time.Unix(-1, 1)}},
		{"max nanos", event.Event{Time: time.Unix(1<<40, 999_999_999), ReceivedAt: time.Unix(0, 999_999_999)}},
		{"unix epoch is not zero", event.Event{Time: time.Unix(0, 0)}},
		{"year 1 plus a nanosecond", event.Event{Time: time.Time{}.Add(1)}},
		{"zero time in a zone", event.Event{Time: time.Time{}.In(paris)}},
		{"far times", event.Event{Time: time.Date(-292277022399, 1, 1, 0, 0, 0, 0, time.UTC),
			ReceivedAt: time.Date(292277026596, 12, 4, 15, 30, 7, 999_999_999, time.UTC)}},
		{"long strings", event.Event{Source: strings.Repeat("s", 300), Raw: bytes.Repeat([]byte{0}, 70000),
			Syslog: event.Syslog{Present: true, Message: strings.Repeat("m", 128)}}},
		{"everything", func() event.Event {
			ev := typical()
			ev.Flags = event.Truncated | event.Split
			ev.File = event.File{Path: "/p", Offset: 7}
			ev.HTTP = &event.HTTP{Method: "POST", Status: 201}
			ev.Fields = []event.Field{{"a", "b"}}
			return ev
		}()},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, tc := range roundTripCases() {
		t.Run(tc.name, func(t *testing.T) {
			rec := tc.ev.AppendRecord([]byte("prefix"))
			if !bytes.HasPrefix(rec, []byte("prefix")) {
				t.Fatalf("AppendRecord overwrote dst: %q", rec)
			}
			rec = rec[len("prefix"):]
			got := event.Event{Source: "stale", HTTP: &event.HTTP{}, Fields: []event.Field{{"x", "y"}}}
			if err := event.DecodeRecord(rec, &got); err != nil {
				t.Fatalf("DecodeRecord: %v", err)
			}
			for _, d := range diffEvents(&got, &tc.ev) {
				t.Error(d)
			}
			for name, tm := range map[string]time.Time{"Time": got.Time, "ReceivedAt": got.ReceivedAt} {
				if !tm.IsZero() && tm.Location() != time.UTC {
					t.Errorf("%s decoded in %v, want UTC", name, tm.Location())
				}
				if tm.IsZero() && tm != (time.Time{}) {
					t.Errorf("%s decoded as %#v, want time.Time{}", name, tm)
				}
			}
			if again := got.AppendRecord(nil); !bytes.Equal(again, rec) {
				t.Errorf("re-encoding differs:\ngot  %x\nwant %x", again, rec)
			}
		})
	}
}

func TestRecordSizes(t *testing.T) {
	if n := len((&event.Event{}).AppendRecord(nil)); n != 15 {
		t.Errorf("zero event takes %d bytes, want 15", n)
	}
	ev := typical()
	rec, js := ev.AppendRecord(nil), ev.AppendJSON(nil)
	t.Logf("typical event: Raw %d bytes, record %d bytes, JSON %d bytes", len(ev.Raw), len(rec), len(js))
	if len(rec) >= len(js) {
		t.Errorf("record (%d bytes) is not smaller than JSON (%d bytes)", len(rec), len(js))
	}
}

// Records of version 1, written before HTTP.Query (by the spools of an
// older sluiced), still decode: as their version 2 record without its last
// field, the empty query.
func TestDecodeRecordVersion1(t *testing.T) {
	for _, tc := range roundTripCases() {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.ev
			if ev.HTTP != nil {
				h := *ev.HTTP
				h.Query = ""
				ev.HTTP = &h
			}
			v2 := ev.AppendRecord(nil)
			if v2[0] != 2 || v2[len(v2)-1] != 0 {
				t.Fatalf("version 2 record starts %d and ends %d, want 2 and an empty query", v2[0], v2[len(v2)-1])
			}
			v1 := append([]byte{1}, v2[1:len(v2)-1]...)
			var got event.Event
			if err := event.DecodeRecord(v1, &got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.AppendRecord(nil), v2) {
				t.Errorf("version 1 record decoded to %+v", got)
			}
		})
	}
}

func TestDecodeRecordZeroCopy(t *testing.T) {
	ev := typical()
	rec := ev.AppendRecord(nil)
	var got event.Event
	if err := event.DecodeRecord(rec, &got); err != nil {
		t.Fatal(err)
	}
	if got.Raw[0] = 'X'; !bytes.Contains(rec, []byte("X165>1 ")) {
		t.Error("Raw does not point into the record")
	}
	if len(got.Raw) != cap(got.Raw) {
		t.Errorf("Raw has capacity %d past its length %d: appending would overwrite the record", cap(got.Raw), len(got.Raw))
	}
	i := bytes.LastIndex(rec, []byte("web-01.example.com")) // Hostname; the first is in Raw
	rec[i] = 'W'
	if got.Syslog.Hostname != "Web-01.example.com" {
		t.Errorf("Hostname %q does not point into the record", got.Syslog.Hostname)
	}
}

func TestDecodeRecordErrors(t *testing.T) {
	valid := func() []byte {
		ev := typical()
		ev.File = event.File{Path: "/p", Offset: 300}
		ev.HTTP = &event.HTTP{Method: "GET", RequestTime: 1.5}
		ev.Fields = []event.Field{{"a", "b"}, {"c", ""}}
		return ev.AppendRecord(nil)
	}()
	zero := (&event.Event{}).AppendRecord(nil)
	for _, tc := range []struct {
		name string
		rec  []byte
		want string // in the error
	}{
		{"empty", nil, "empty"},
		{"unknown version", append([]byte{3}, valid[1:]...), "unknown version 3"},
		{"query without http", append(bytes.Clone(zero[:len(zero)-1]), 1, 'q'), "HTTP.Query: set without HTTP"},
		{"version 0", append([]byte{0}, valid[1:]...), "unknown version 0"},
		{"trailing byte", append(bytes.Clone(valid), 0), "1 trailing bytes"},
		{"trailing bytes on zero", append(bytes.Clone(zero), 0, 0), "2 trailing bytes"},
		{"bad time marker", []byte{1, 2}, "Time: bad presence byte 2"},
		{"nanos out of range", []byte{1, 1, 0, 0x80, 0x94, 0xeb, 0xdc, 0x03}, "Time: nanoseconds 1000000000 out of range"},
		{"varint overflow", []byte{1, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, "ReceivedAt: varint overflows 64 bits"},
		{"length past end", []byte{1, 0, 0, 5, 'a', 'b'}, "Source: length 5 past end of record (2 bytes left)"},
		{"huge length", []byte{1, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "Raw: length 18446744073709551615 past end"},
		{"flags out of range", []byte{1, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x80, 0x04}, "Flags: 65536 out of range"},
		{"bad syslog marker", []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0}, "Syslog: bad presence byte 3"},
		{"bad http marker", []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0}, "HTTP: bad presence byte 2"},
		{"fields count past end", []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, "Fields: count 4294967295 past end"},
		{"fields count one too many", []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0}, "Fields: count 2 past end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := sample()
			err := event.DecodeRecord(tc.rec, &ev)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "event: decode record: ") {
				t.Errorf("got error %v, want one containing %q", err, tc.want)
			}
			if diff := diffEvents(&ev, &event.Event{}); diff != nil {
				t.Errorf("event not zeroed after error: %v", diff)
			}
		})
	}

	t.Run("every truncation", func(t *testing.T) {
		for _, tc := range roundTripCases() {
			rec := tc.ev.AppendRecord(nil)
			for n := range len(rec) {
				var ev event.Event
				if err := event.DecodeRecord(rec[:n], &ev); err == nil {
					t.Errorf("%s: record cut to %d of %d bytes decodes without error", tc.name, n, len(rec))
				}
			}
		}
	})
}

func TestRecordAllocations(t *testing.T) {
	buf := make([]byte, 0, 4096)
	for _, tc := range []struct {
		name   string
		ev     event.Event
		decode float64 // allocations per DecodeRecord
	}{
		{"typical syslog", typical(), 0},
		{"with HTTP", event.Event{ReceivedAt: t0, HTTP: &event.HTTP{Method: "GET"}}, 1},
		{"with HTTP and fields", event.Event{HTTP: &event.HTTP{}, Fields: []event.Field{{"a", "b"}}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, func() { buf = tc.ev.AppendRecord(buf[:0]) }); n != 0 {
				t.Errorf("AppendRecord allocates %v times", n)
			}
			rec := tc.ev.AppendRecord(nil)
			var ev event.Event
			if n := testing.AllocsPerRun(100, func() { _ = event.DecodeRecord(rec, &ev) }); n != tc.decode {
				t.Errorf("DecodeRecord allocates %v times, want %v", n, tc.decode)
			}
		})
	}
}

// FuzzRecord checks that, for any bytes:
//   - DecodeRecord does not panic;
//   - if they decode, the event re-encodes to a record that decodes to an
//     equal event, and re-encodes to the same bytes (the encoding of a
//     decoded event is stable).
func FuzzRecord(f *testing.F) {
	for _, tc := range roundTripCases() {
		if len(tc.ev.Raw) < 1000 {
			f.Add(tc.ev.AppendRecord(nil))
		}
	}
	f.Add([]byte{})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev event.Event
		if err := event.DecodeRecord(b, &ev); err != nil {
			if diff := diffEvents(&ev, &event.Event{}); diff != nil {
				t.Fatalf("event not zeroed after error %v: %v", err, diff)
			}
			return
		}
		rec := ev.AppendRecord(nil)
		var again event.Event
		if err := event.DecodeRecord(rec, &again); err != nil {
			t.Fatalf("re-encoded record %x of %x does not decode: %v", rec, b, err)
		}
		if diff := diffEvents(&again, &ev); diff != nil {
			t.Fatalf("round trip of %x differs: %v", b, diff)
		}
		if rec2 := again.AppendRecord(nil); !bytes.Equal(rec2, rec) {
			t.Fatalf("encoding not stable:\n%x\n%x", rec, rec2)
		}
	})
}

// FuzzRecordEvent checks that any event built from the inputs encodes to a
// record that decodes to an equal event, and that every shorter prefix of
// that record is an error.
func FuzzRecordEvent(f *testing.F) {
	f.Add("web", []byte("<13>1 - h a - - - m"), int64(1<<31), uint32(5), uint16(3), "/var/log/x", int64(42),
		`[a b="c"]`, "msg", 200, 0.25, "PRIORITY", "6", uint8(0xff))
	f.Add("", []byte{0xff}, int64(-1), uint32(999_999_999), uint16(0), "", int64(-1), "", "", -1, math.NaN(), "", "", uint8(0))
	f.Fuzz(func(t *testing.T, source string, raw []byte, sec int64, nsec uint32, flags uint16, path string, offset int64,
		sd, msg string, status int, reqTime float64, name, value string, parts uint8) {
		ev := event.Event{
			Time: time.Unix(sec, int64(nsec%1e9)), ReceivedAt: time.Unix(-sec, int64(nsec/5)),
			Source: source, Host: msg, Raw: raw, Flags: event.Flags(flags),
			File: event.File{Path: path, Offset: offset},
		}
		if parts&1 != 0 {
			ev.Syslog = event.Syslog{Present: parts&2 != 0, Facility: uint8(nsec), Severity: uint8(sec),
				Version: parts, StructuredData: sd, Message: msg}
		}
		if parts&4 != 0 {
			ev.HTTP = &event.HTTP{Path: path, Status: status, Bytes: offset, RequestTime: reqTime, UserAgent: value}
		}
		if parts&8 != 0 {
			ev.Fields = []event.Field{{name, value}, {value, name}}
		}
		if parts&16 != 0 {
			ev.Time = time.Time{}
		}
		rec := ev.AppendRecord(nil)
		var got event.Event
		if err := event.DecodeRecord(rec, &got); err != nil {
			t.Fatalf("DecodeRecord: %v", err)
		}
		if diff := diffEvents(&got, &ev); diff != nil {
			t.Fatalf("round trip differs: %v", diff)
		}
		for n := range len(rec) {
			if err := event.DecodeRecord(rec[:n], &got); err == nil {
				t.Fatalf("record cut to %d of %d bytes decodes without error", n, len(rec))
			}
		}
	})
}

func BenchmarkAppendRecord(b *testing.B) {
	ev := typical()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = ev.AppendRecord(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeRecord(b *testing.B) {
	ev := typical()
	rec := ev.AppendRecord(nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		if err := event.DecodeRecord(rec, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordAppendJSON encodes the event of the record benchmarks as
// JSON, for comparison.
func BenchmarkRecordAppendJSON(b *testing.B) {
	ev := typical()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = ev.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func ExampleEvent_AppendRecord() {
	ev := event.Event{
		ReceivedAt: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC),
		Source:     "syslog-udp",
		SourceType: "syslog",
		Raw:        []byte("<13>1 - web1 app - - - hello"),
		Syslog: event.Syslog{Present: true, Facility: 1, Severity: 5, Version: 1,
			Hostname: "web1", AppName: "app", Message: "hello"},
	}
	rec := ev.AppendRecord(nil)

	var got event.Event
	if err := event.DecodeRecord(rec, &got); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(rec), "bytes")
	fmt.Println(got.ReceivedAt, got.Source, got.Syslog.AppName, got.Syslog.Message)
	fmt.Printf("%s\n", got.Raw)

	rec[0] = 9
	fmt.Println(event.DecodeRecord(rec, &got))
	// Output:
	// 86 bytes
	// 2026-11-24 10:00:00 +0000 UTC syslog-udp app hello
	// <13>1 - web1 app - - - hello
	// event: decode record: unknown version 9
}
