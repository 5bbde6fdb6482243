package parse_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/syslog/parse"
)

const bom = "\xEF\xBB\xBF"

// now is the receive time used for RFC 3164 year inference in the tests.
var now = time.Date(2026, time.January, 5, 12, 0, 0, 0, time.UTC)

// fields is a Message in comparable form; "" stands for nil.
type fields struct {
	format                     parse.Format
	fac, sev, ver              uint8
	ts                         time.Time
	host, app, proc, msgID, sd string
	msg                        string
}

func fieldsOf(m parse.Message) fields {
	return fields{
		format: m.Format, fac: m.Facility, sev: m.Severity, ver: m.Version, ts: m.Timestamp,
		host: string(m.Hostname), app: string(m.AppName), proc: string(m.ProcID),
		msgID: string(m.MsgID), sd: string(m.StructuredData), msg: string(m.Msg),
	}
}

func (f fields) equal(g fields) bool {
	ft, gt := f.ts, g.ts
	f.ts, g.ts = time.Time{}, time.Time{}
	return f == g && ft.Equal(gt) && ft.IsZero() == gt.IsZero()
}

func utc(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
}

func zoned(y int, mo time.Month, d, h, mi, s, ns int, offset string) time.Time {
	t, err := time.Parse("-07:00", offset)
	if err != nil {
		panic(err)
	}
	_, off := t.Zone()
	return time.Date(y, mo, d, h, mi, s, ns, time.FixedZone("", off))
}

var validTests = []struct {
	name   string
	format parse.Format
	in     string
	want   fields
}{
	// RFC 5424 section 6.5, examples 1 to 4.
	{"rfc5424/example1", parse.Auto,
		"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - " + bom + "'su root' failed for lonvick on /dev/pts/8",
		fields{format: parse.RFC5424, fac: 4, sev: 2, ver: 1, ts: utc(2003, 10, 11, 22, 14, 15, 3e6),
			host: "mymachine.example.com", app: "su", msgID: "ID47", msg: "'su root' failed for lonvick on /dev/pts/8"}},
	{"rfc5424/example2", parse.Auto,
		"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
		fields{format: parse.RFC5424, fac: 20, sev: 5, ver: 1, ts: zoned(2003, 8, 24, 5, 14, 15, 3000, "-07:00"),
			host: "192.0.2.1", app: "myproc", proc: "8710", msg: "%% It's time to make the do-nuts."}},
	{"rfc5424/example3", parse.Auto,
		`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] ` + bom + "An application event log entry...",
		fields{format: parse.RFC5424, fac: 20, sev: 5, ver: 1, ts: utc(2003, 10, 11, 22, 14, 15, 3e6),
			host: "mymachine.example.com", app: "evntslog", msgID: "ID47",
			sd:  `[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]`,
			msg: "An application event log entry..."}},
	{"rfc5424/example4", parse.Auto,
		`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`,
		fields{format: parse.RFC5424, fac: 20, sev: 5, ver: 1, ts: utc(2003, 10, 11, 22, 14, 15, 3e6),
			host: "mymachine.example.com", app: "evntslog", msgID: "ID47",
			sd: `[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`}},
	// RFC 5424 section 6.3.5 calls this SD invalid because of the SP
	// between the elements; as a whole message, the second element is MSG.
	{"rfc5424/sd-then-bracketed-msg", parse.Auto,
		`<165>1 - - - - - [exampleSDID@32473 iut="3"] [examplePriority@32473 class="high"]`,
		fields{format: parse.RFC5424, fac: 20, sev: 5, ver: 1,
			sd: `[exampleSDID@32473 iut="3"]`, msg: `[examplePriority@32473 class="high"]`}},
	// RFC 5424 section 6.2.3.1, timestamp examples 1, 2 and 4.
	{"rfc5424/timestamp-example1", parse.RFC5424, "<0>1 1985-04-12T23:20:50.52Z - - - - -",
		fields{format: parse.RFC5424, ver: 1, ts: utc(1985, 4, 12, 23, 20, 50, 52e7)}},
	{"rfc5424/timestamp-example2", parse.RFC5424, "<0>1 1985-04-12T19:20:50.52-04:00 - - - - -",
		fields{format: parse.RFC5424, ver: 1, ts: utc(1985, 4, 12, 23, 20, 50, 52e7)}},
	{"rfc5424/timestamp-example4", parse.RFC5424, "<0>1 2003-08-24T05:14:15.000003-07:00 - - - - -",
		fields{format: parse.RFC5424, ver: 1, ts: utc(2003, 8, 24, 12, 14, 15, 3000)}},
	// Example 5 has 9 fraction digits, which RFC 5424 forbids; accepted.
	{"rfc5424/nanoseconds", parse.RFC5424, "<0>1 2003-08-24T05:14:15.000000003-07:00 - - - - -",
		fields{format: parse.RFC5424, ver: 1, ts: utc(2003, 8, 24, 12, 14, 15, 3)}},
	{"rfc5424/leap-day", parse.RFC5424, "<0>1 2024-02-29T00:00:00+14:00 - - - - -",
		fields{format: parse.RFC5424, ver: 1, ts: utc(2024, 2, 28, 10, 0, 0, 0)}},
	{"rfc5424/offset-extremes", parse.RFC5424, "<0>1 2018-12-31T23:59:59.999999-23:59 - - - - -",
		fields{format: parse.RFC5424, ver: 1, ts: utc(2019, 1, 1, 23, 58, 59, 999999e3)}},
	// rsyslog tests/fuzz/corpus/syslog-message.
	{"rsyslog/rfc5424-basic", parse.Auto,
		"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\"] An application event log entry\n",
		fields{format: parse.RFC5424, fac: 20, sev: 5, ver: 1, ts: utc(2003, 10, 11, 22, 14, 15, 3e6),
			host: "mymachine.example.com", app: "evntslog", msgID: "ID47",
			sd: `[exampleSDID@32473 iut="3" eventSource="Application"]`, msg: "An application event log entry"}},
	{"rsyslog/rfc5424-escaped-sd", parse.Auto,
		"<34>1 2026-07-23T09:30:45+02:00 host app 123 msg [meta@32473 value=\"escaped\\]bracket\" quote=\"\\\"\"] payload\n",
		fields{format: parse.RFC5424, fac: 4, sev: 2, ver: 1, ts: utc(2026, 7, 23, 7, 30, 45, 0),
			host: "host", app: "app", proc: "123", msgID: "msg",
			sd: `[meta@32473 value="escaped\]bracket" quote="\""]`, msg: "payload"}},
	{"rsyslog/rfc5424-nil", parse.Auto, "<13>1 - - - - - - minimal\n",
		fields{format: parse.RFC5424, fac: 1, sev: 5, ver: 1, msg: "minimal"}},
	{"rsyslog/rfc3164-basic", parse.Auto, "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n",
		fields{format: parse.RFC3164, fac: 4, sev: 2, ts: utc(2025, 10, 11, 22, 14, 15, 0),
			host: "mymachine", app: "su", msg: "'su root' failed for lonvick on /dev/pts/8"}},
	{"rsyslog/rfc3164-no-pri", parse.Auto, "Oct 11 22:14:15 host.example app[123]: legacy message without PRI\n",
		fields{format: parse.RFC3164, fac: 1, sev: 5, ts: utc(2025, 10, 11, 22, 14, 15, 0),
			host: "host.example", app: "app", proc: "123", msg: "legacy message without PRI"}},
	{"rsyslog/rfc3164-rfc3339", parse.Auto, "<13>2026-07-23T09:30:45.123+02:00 host daemon: timestamp variant\n",
		fields{format: parse.RFC3164, fac: 1, sev: 5, ts: utc(2026, 7, 23, 7, 30, 45, 123e6),
			host: "host", app: "daemon", msg: "timestamp variant"}},
	{"rsyslog/rfc3164-short", parse.Auto, "<0>x\n",
		fields{format: parse.RFC3164, msg: "x"}},

	// RFC 5424 edge cases.
	{"rfc5424/minimal", parse.Auto, "<1>1 - - - - - -", fields{format: parse.RFC5424, sev: 1, ver: 1}},
	{"rfc5424/trailing-sp", parse.Auto, "<1>1 - - - - - - ", fields{format: parse.RFC5424, sev: 1, ver: 1}},
	{"rfc5424/nil-sd-then-lf", parse.Auto, "<1>1 - - - - - -\n", fields{format: parse.RFC5424, sev: 1, ver: 1}},
	{"rfc5424/only-bom", parse.Auto, "<1>1 - - - - - - " + bom, fields{format: parse.RFC5424, sev: 1, ver: 1}},
	{"rfc5424/bom-kept-inside", parse.Auto, "<1>1 - - - - - - x" + bom, fields{format: parse.RFC5424, sev: 1, ver: 1, msg: "x" + bom}},
	{"rfc5424/msg-with-newline", parse.Auto, "<1>1 - - - - - - x\ny", fields{format: parse.RFC5424, sev: 1, ver: 1, msg: "x\ny"}},
	{"rfc5424/only-last-lf-dropped", parse.Auto, "<1>1 - - - - - - x\n\n", fields{format: parse.RFC5424, sev: 1, ver: 1, msg: "x\n"}},
	{"rfc5424/pri-191", parse.Auto, "<191>1 - - - - - -", fields{format: parse.RFC5424, fac: 23, sev: 7, ver: 1}},
	{"rfc5424/sd-id-only", parse.Auto, "<1>1 - - - - - [a][b@1 x=\"\"]", fields{format: parse.RFC5424, sev: 1, ver: 1, sd: `[a][b@1 x=""]`}},
	{"rfc5424/sd-invalid-escape-kept", parse.Auto, `<1>1 - - - - - [a x="\n\\"] m`, fields{format: parse.RFC5424, sev: 1, ver: 1, sd: `[a x="\n\\"]`, msg: "m"}},
	{"rfc5424/sd-unescaped-bracket", parse.Auto, `<1>1 - - - - - [a x="]"]`, fields{format: parse.RFC5424, sev: 1, ver: 1, sd: `[a x="]"]`}},
	{"rfc5424/sd-duplicate-id", parse.Auto, `<1>1 - - - - - [a][a]`, fields{format: parse.RFC5424, sev: 1, ver: 1, sd: `[a][a]`}},
	{"rfc5424/sd-utf8-value", parse.Auto, "<1>1 - - - - - [a x=\"κόσμε\"]", fields{format: parse.RFC5424, sev: 1, ver: 1, sd: "[a x=\"κόσμε\"]"}},
	{"rfc5424/max-lengths", parse.Auto,
		"<1>1 - " + strings.Repeat("h", 255) + " " + strings.Repeat("a", 48) + " " + strings.Repeat("p", 128) + " " +
			strings.Repeat("m", 32) + " [" + strings.Repeat("i", 32) + " " + strings.Repeat("n", 32) + `="v"]`,
		fields{format: parse.RFC5424, sev: 1, ver: 1, host: strings.Repeat("h", 255), app: strings.Repeat("a", 48),
			proc: strings.Repeat("p", 128), msgID: strings.Repeat("m", 32),
			sd: "[" + strings.Repeat("i", 32) + " " + strings.Repeat("n", 32) + `="v"]`}},
	{"rfc5424/one-byte-fields", parse.Auto, "<1>1 - h a 1 m - x", fields{format: parse.RFC5424, sev: 1, ver: 1,
		host: "h", app: "a", proc: "1", msgID: "m", msg: "x"}},
	{"rfc5424/two-dash-fields", parse.Auto, "<1>1 - -- -- -- -- - x", fields{format: parse.RFC5424, sev: 1, ver: 1,
		host: "--", app: "--", proc: "--", msgID: "--", msg: "x"}},
	{"rfc5424/dash-prefixed-fields", parse.Auto, "<1>1 - -h -a -p -m -", fields{format: parse.RFC5424, sev: 1, ver: 1,
		host: "-h", app: "-a", proc: "-p", msgID: "-m"}},
	{"rfc5424/year-zero", parse.Auto, "<1>1 0000-01-01T00:00:00Z - - - - -",
		fields{format: parse.RFC5424, sev: 1, ver: 1, ts: utc(0, 1, 1, 0, 0, 0, 0)}},

	// RFC 3164 variants.
	{"rfc3164/space-padded-day", parse.Auto, "<13>Nov  4 10:00:00 host app: x",
		fields{format: parse.RFC3164, fac: 1, sev: 5, ts: utc(2025, 11, 4, 10, 0, 0, 0), host: "host", app: "app", msg: "x"}},
	{"rfc3164/unpadded-day", parse.Auto, "<13>Nov 4 10:00:00 host app: x",
		fields{format: parse.RFC3164, fac: 1, sev: 5, ts: utc(2025, 11, 4, 10, 0, 0, 0), host: "host", app: "app", msg: "x"}},
	{"rfc3164/zero-padded-day", parse.Auto, "<13>Nov 04 10:00:00 host app: x",
		fields{format: parse.RFC3164, fac: 1, sev: 5, ts: utc(2025, 11, 4, 10, 0, 0, 0), host: "host", app: "app", msg: "x"}},
	{"rfc3164/fraction", parse.Auto, "<13>Jan  4 10:00:00.123456 host app: x",
		fields{format: parse.RFC3164, fac: 1, sev: 5, ts: utc(2026, 1, 4, 10, 0, 0, 123456e3), host: "host", app: "app", msg: "x"}},
	{"rfc3164/no-hostname", parse.Auto, "<13>Nov 24 10:00:00 sshd[42]: Accepted key",
		fields{format: parse.RFC3164, fac: 1, sev: 5, ts: utc(2025, 11, 24, 10, 0, 0, 0), app: "sshd", proc: "42", msg: "Accepted key"}},
	{"rfc3164/no-tag", parse.Auto, "<13>Nov 24 10:00:00 host just some text",
		fields{format: parse.RFC3164, fac: 1, sev: 5, ts: utc(2025, 11, 24, 10, 0, 0, 0), host: "host", msg: "just some text"}},
	{"rfc3164/colon-without-sp-is-not-a-tag", parse.Auto, "<13>Nov 24 10:00:00 host app:text",
		fields{format: parse.RFC3164, fac: 1, sev: 5, ts: utc(2025, 11, 24, 10, 0, 0, 0), host: "host", msg: "app:text"}},
	{"rfc3164/tag-at-end", parse.Auto, "<13>Nov 24 10:00:00 host app[7]:",
		fields{format: parse.RFC3164, fac: 1, sev: 5, ts: utc(2025, 11, 24, 10, 0, 0, 0), host: "host", app: "app", proc: "7"}},
	{"rfc3164/empty-pid", parse.Auto, "<13>Nov 24 10:00:00 host app[]: x",
		fields{format: parse.RFC3164, fac: 1, sev: 5, ts: utc(2025, 11, 24, 10, 0, 0, 0), host: "host", app: "app", msg: "x"}},
	{"rfc3164/extra-spaces", parse.Auto, "<13>  Nov 24 10:00:00   host   app:  x",
		fields{format: parse.RFC3164, fac: 1, sev: 5, ts: utc(2025, 11, 24, 10, 0, 0, 0), host: "host", app: "app", msg: " x"}},
	{"rfc3164/ipv6-hostname", parse.Auto, "<13>Nov 24 10:00:00 fe80::1 app: x",
		fields{format: parse.RFC3164, fac: 1, sev: 5, ts: utc(2025, 11, 24, 10, 0, 0, 0), host: "fe80::1", app: "app", msg: "x"}},
	{"rfc3164/only-timestamp", parse.Auto, "<13>Nov 24 10:00:00",
		fields{format: parse.RFC3164, fac: 1, sev: 5, ts: utc(2025, 11, 24, 10, 0, 0, 0)}},
	{"rfc3164/only-hostname", parse.Auto, "<13>Nov 24 10:00:00 host",
		fields{format: parse.RFC3164, fac: 1, sev: 5, ts: utc(2025, 11, 24, 10, 0, 0, 0), host: "host"}},
	{"rfc3164/december-in-january", parse.Auto, "<13>Dec 31 23:59:59 host app: x",
		fields{format: parse.RFC3164, fac: 1, sev: 5, ts: utc(2025, 12, 31, 23, 59, 59, 0), host: "host", app: "app", msg: "x"}},
	{"rfc3164/early-january", parse.Auto, "<13>Jan  6 00:00:00 host app: x",
		fields{format: parse.RFC3164, fac: 1, sev: 5, ts: utc(2026, 1, 6, 0, 0, 0, 0), host: "host", app: "app", msg: "x"}},
	{"rfc3164/feb-29-nearest-leap-year", parse.Auto, "<13>Feb 29 12:00:00 host app: x",
		fields{format: parse.RFC3164, fac: 1, sev: 5, ts: utc(2024, 2, 29, 12, 0, 0, 0), host: "host", app: "app", msg: "x"}},
	{"rfc3164/non-ascii-hostname-is-msg", parse.Auto, "<13>Nov 24 10:00:00 hôst app: x",
		fields{format: parse.RFC3164, fac: 1, sev: 5, ts: utc(2025, 11, 24, 10, 0, 0, 0), msg: "hôst app: x"}},
	{"rfc3164/no-header", parse.Auto, "<13>host app: x",
		fields{format: parse.RFC3164, fac: 1, sev: 5, msg: "host app: x"}},
	{"rfc3164/bad-month-is-no-header", parse.Auto, "<13>Foo 24 10:00:00 host app: x",
		fields{format: parse.RFC3164, fac: 1, sev: 5, msg: "Foo 24 10:00:00 host app: x"}},
	{"rfc3164/bad-day-is-no-header", parse.Auto, "<13>Apr 31 10:00:00 host app: x",
		fields{format: parse.RFC3164, fac: 1, sev: 5, msg: "Apr 31 10:00:00 host app: x"}},
	{"rfc3164/bad-hour-is-no-header", parse.Auto, "<13>Apr 30 24:00:00 host app: x",
		fields{format: parse.RFC3164, fac: 1, sev: 5, msg: "Apr 30 24:00:00 host app: x"}},
	{"rfc3164/timestamp-glued-is-no-header", parse.Auto, "<13>Apr 30 10:00:00:host",
		fields{format: parse.RFC3164, fac: 1, sev: 5, msg: "Apr 30 10:00:00:host"}},
	{"rfc3164/bad-rfc3339-is-no-header", parse.Auto, "<13>2026-02-30T00:00:00Z host app: x",
		fields{format: parse.RFC3164, fac: 1, sev: 5, msg: "2026-02-30T00:00:00Z host app: x"}},
	{"rfc3164/no-pri-free-text", parse.Auto, "hello world",
		fields{format: parse.RFC3164, fac: 1, sev: 5, msg: "hello world"}},
	{"rfc3164/pri-then-space-text", parse.Auto, "<13> hello",
		fields{format: parse.RFC3164, fac: 1, sev: 5, msg: " hello"}},
	{"rfc3164/pri-only", parse.Auto, "<13>", fields{format: parse.RFC3164, fac: 1, sev: 5}},
	{"rfc3164/version-without-sp", parse.Auto, "<13>1", fields{format: parse.RFC3164, fac: 1, sev: 5, msg: "1"}},
	{"rfc3164/version-2-is-text", parse.Auto, "<13>2 - - - - - -", fields{format: parse.RFC3164, fac: 1, sev: 5, msg: "2 - - - - - -"}},
	{"rfc3164/forced-on-5424", parse.RFC3164, "<13>1 - - - - - - x", fields{format: parse.RFC3164, fac: 1, sev: 5, msg: "1 - - - - - - x"}},
}

func TestParseValid(t *testing.T) {
	for _, tc := range validTests {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			m, err := parse.Parse(in, tc.format, now, nil)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			checkInvariants(t, in, m)
			if got := fieldsOf(m); !got.equal(tc.want) {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseLocation(t *testing.T) {
	loc := time.FixedZone("X", -5*3600)
	tests := []struct {
		name string
		now  time.Time
		in   string
		want time.Time
	}{
		{"bsd-in-loc", now, "<13>Nov 24 10:00:00 h a: x", time.Date(2025, 11, 24, 10, 0, 0, 0, loc)},
		// 2026-01-01 02:00 UTC is still 2025 in loc, so Dec 31 is this year's.
		{"year-of-now-in-loc", time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC), "<13>Dec 31 20:00:00 h a: x", time.Date(2025, 12, 31, 20, 0, 0, 0, loc)},
		{"next-year", time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC), "<13>Jan  1 00:30:00 h a: x", time.Date(2026, 1, 1, 0, 30, 0, 0, loc)},
		{"rfc3339-keeps-own-offset", now, "<13>2026-01-05T10:00:00Z h a: x", utc(2026, 1, 5, 10, 0, 0, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := parse.Parse([]byte(tc.in), parse.Auto, tc.now, loc)
			if err != nil {
				t.Fatal(err)
			}
			if !m.Timestamp.Equal(tc.want) {
				t.Errorf("got %v, want %v", m.Timestamp, tc.want)
			}
		})
	}
	t.Run("zero-now-is-time.Now", func(t *testing.T) {
		m, err := parse.Parse([]byte("<13>Nov 24 10:00:00 h a: x"), parse.RFC3164, time.Time{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(m.Timestamp); d < -183*24*time.Hour || d > 183*24*time.Hour {
			t.Errorf("got %v, more than half a year from now", m.Timestamp)
		}
	})
}

var invalidTests = []struct {
	name   string
	format parse.Format
	in     string
	off    int
	reason string // a substring of the reason
	errFmt parse.Format
}{
	{"empty", parse.Auto, "", 0, "empty message", parse.Auto},
	{"only-lf", parse.Auto, "\n", 0, "empty message", parse.Auto},
	{"unknown-format", 7, "<1>1 - - - - - -", 0, "unknown format", 7},
	{"pri/no-digits", parse.Auto, "<>1 - - - - - -", 1, "want digits", parse.Auto},
	{"pri/letters", parse.Auto, "<aaa>x", 1, "want digits", parse.Auto},
	{"pri/too-long", parse.Auto, "<1000>x", 4, "longer than 3 digits", parse.Auto},
	{"pri/leading-zero", parse.Auto, "<013>x", 1, "leading zero", parse.Auto},
	{"pri/double-zero", parse.Auto, "<00>x", 1, "leading zero", parse.Auto},
	{"pri/192", parse.Auto, "<192>x", 1, "out of range", parse.Auto},
	{"pri/unclosed", parse.Auto, "<13", 3, "want '>'", parse.Auto},
	{"pri/bad-close", parse.Auto, "<87]123 -", 3, "want '>'", parse.Auto},
	{"pri/rfc3164-html", parse.RFC3164, "<html>", 1, "want digits", parse.RFC3164},
	{"rfc5424/no-pri", parse.RFC5424, "1 - - - - - -", 0, "missing PRI", parse.RFC5424},
	{"rfc5424/pri-only", parse.RFC5424, "<1>", 3, "missing version", parse.RFC5424},
	{"rfc5424/bad-version", parse.RFC5424, "<1>a - - - - - -", 3, "invalid version", parse.RFC5424},
	{"rfc5424/version-0", parse.RFC5424, "<1>0 - - - - - -", 3, "unsupported version", parse.RFC5424},
	{"rfc5424/version-2", parse.RFC5424, "<1>2 - - - - - -", 3, "unsupported version", parse.RFC5424},
	{"rfc5424/version-11", parse.RFC5424, "<1>11 - - - - - -", 3, "unsupported version", parse.RFC5424},
	{"rfc5424/no-sp-after-version", parse.RFC5424, "<1>1", 4, "want SP after version", parse.RFC5424},
	{"rfc5424/missing-timestamp", parse.Auto, "<1>1 ", 5, "missing timestamp", parse.RFC5424},
	{"rfc5424/timestamp-space", parse.Auto, "<165>1 2003-10-11 22:14:15.003Z x - - - -", 17, "invalid timestamp", parse.RFC5424},
	{"rfc5424/timestamp-short", parse.Auto, "<1>1 2003-10-11", 15, "invalid timestamp", parse.RFC5424},
	{"rfc5424/timestamp-lowercase-t", parse.Auto, "<1>1 2003-10-11t22:14:15Z - - - - -", 15, "invalid timestamp", parse.RFC5424},
	{"rfc5424/timestamp-month-13", parse.Auto, "<1>1 2003-13-11T22:14:15Z - - - - -", 10, "month", parse.RFC5424},
	{"rfc5424/timestamp-feb-29", parse.Auto, "<1>1 2018-02-29T22:14:16+01:00 - - - - -", 13, "day", parse.RFC5424},
	{"rfc5424/timestamp-sep-31", parse.Auto, "<1>1 2003-09-31T22:14:15.003Z - - - - -", 13, "day", parse.RFC5424},
	{"rfc5424/timestamp-hour-24", parse.Auto, "<1>1 2003-09-29T24:09:16Z - - - - -", 16, "hour", parse.RFC5424},
	{"rfc5424/timestamp-minute-99", parse.Auto, "<1>1 2003-09-29T22:99:16Z - - - - -", 19, "minute", parse.RFC5424},
	{"rfc5424/timestamp-leap-second", parse.Auto, "<1>1 1990-12-31T23:59:60Z - - - - -", 22, "second", parse.RFC5424},
	{"rfc5424/timestamp-10-fraction-digits", parse.Auto, "<1>1 2003-09-29T22:09:01.0000000009Z - - - - -", 34, "fraction longer", parse.RFC5424},
	{"rfc5424/timestamp-empty-fraction", parse.Auto, "<1>1 2003-09-29T22:09:01.Z - - - - -", 25, "digits after '.'", parse.RFC5424},
	{"rfc5424/timestamp-no-offset", parse.Auto, "<1>1 2003-09-29T22:09:01 - - - - -", 24, "want 'Z'", parse.RFC5424},
	{"rfc5424/timestamp-offset-24", parse.Auto, "<1>1 2003-08-24T05:14:15.000003-24:00 - - - - -", 31, "time offset", parse.RFC5424},
	{"rfc5424/timestamp-offset-61", parse.Auto, "<1>1 2003-08-24T05:14:15.000003-07:61 - - - - -", 31, "time offset", parse.RFC5424},
	{"rfc5424/timestamp-offset-no-colon", parse.Auto, "<1>1 2003-08-24T05:14:15-0700 - - - - -", 24, "time offset", parse.RFC5424},
	{"rfc5424/timestamp-trailing", parse.Auto, "<1>1 2003-08-24T05:14:15ZZ - - - - -", 25, "invalid timestamp", parse.RFC5424},
	{"rfc5424/nil-timestamp-trailing", parse.Auto, "<1>1 -- - - - - -", 6, "invalid timestamp", parse.RFC5424},
	{"rfc5424/missing-hostname", parse.Auto, "<1>1 -", 6, "missing hostname", parse.RFC5424},
	{"rfc5424/missing-hostname-sp", parse.Auto, "<1>1 - ", 7, "missing hostname", parse.RFC5424},
	{"rfc5424/empty-hostname", parse.Auto, "<1>1 -   - - - -", 7, "empty hostname", parse.RFC5424},
	{"rfc5424/hostname-lf", parse.Auto, "<1>1 - host\nname - - - -", 11, "invalid byte in hostname", parse.RFC5424},
	{"rfc5424/hostname-256", parse.Auto, "<1>1 - " + strings.Repeat("h", 256) + " - - - -", 7 + 255, "hostname longer than 255", parse.RFC5424},
	{"rfc5424/app-name-49", parse.Auto, "<1>1 - - " + strings.Repeat("a", 49) + " - - -", 9 + 48, "app-name longer than 48", parse.RFC5424},
	{"rfc5424/procid-129", parse.Auto, "<1>1 - - - " + strings.Repeat("p", 129) + " - -", 11 + 128, "procid longer than 128", parse.RFC5424},
	{"rfc5424/msgid-33", parse.Auto, "<1>1 - - - - " + strings.Repeat("m", 33) + " -", 13 + 32, "msgid longer than 32", parse.RFC5424},
	{"rfc5424/empty-app-name", parse.Auto, "<1>1 - -  - - -", 9, "empty app-name", parse.RFC5424},
	{"rfc5424/empty-procid", parse.Auto, "<1>1 - - -  - -", 11, "empty procid", parse.RFC5424},
	{"rfc5424/empty-msgid", parse.Auto, "<1>1 - - - -  -", 13, "empty msgid", parse.RFC5424},
	{"rfc5424/missing-app-name", parse.Auto, "<1>1 - host", 11, "missing app-name", parse.RFC5424},
	{"rfc5424/missing-procid", parse.Auto, "<1>1 - - app", 12, "missing procid", parse.RFC5424},
	{"rfc5424/missing-msgid", parse.Auto, "<1>1 - - - -", 12, "missing msgid", parse.RFC5424},
	{"rfc5424/missing-sd", parse.Auto, "<1>1 - - - - -", 14, "missing structured data", parse.RFC5424},
	{"rfc5424/missing-sd-after-sp", parse.Auto, "<1>1 - - - - - ", 15, "missing structured data", parse.RFC5424},
	{"rfc5424/sd-garbage", parse.Auto, "<1>1 - - - - - X", 15, "want '-' or '['", parse.RFC5424},
	{"rfc5424/nil-sd-glued", parse.Auto, "<1>1 - - - - - -x", 16, "want SP after structured data", parse.RFC5424},
	{"rfc5424/sd-glued", parse.Auto, "<1>1 - - - - - [a]x", 18, "want SP after structured data", parse.RFC5424},
	{"rfc5424/sd-empty-element", parse.Auto, "<1>1 - - - - - []", 16, "empty or invalid SD-ID", parse.RFC5424},
	{"rfc5424/sd-space-id", parse.Auto, "<1>1 - - - - - [ ]", 16, "empty or invalid SD-ID", parse.RFC5424},
	{"rfc5424/sd-eq-id", parse.Auto, "<1>1 - - - - - [=]", 16, "empty or invalid SD-ID", parse.RFC5424},
	{"rfc5424/sd-id-33", parse.Auto, "<1>1 - - - - - [" + strings.Repeat("i", 33) + "]", 16 + 32, "SD-ID longer than 32", parse.RFC5424},
	{"rfc5424/sd-id-quote", parse.Auto, `<1>1 - - - - - [a"]`, 17, "want SP or ']'", parse.RFC5424},
	{"rfc5424/sd-unterminated", parse.Auto, "<1>1 - - - - - [a", 17, "unterminated SD-ELEMENT", parse.RFC5424},
	{"rfc5424/sd-trailing-space", parse.Auto, `<1>1 - - - - - [a x="1" ]`, 24, "empty or invalid PARAM-NAME", parse.RFC5424},
	{"rfc5424/sd-param-no-eq", parse.Auto, `<1>1 - - - - - [a x]`, 19, "want '='", parse.RFC5424},
	{"rfc5424/sd-param-no-quote", parse.Auto, `<1>1 - - - - - [a x=1]`, 20, "want '\"'", parse.RFC5424},
	{"rfc5424/sd-param-name-33", parse.Auto, "<1>1 - - - - - [a " + strings.Repeat("n", 33) + `="1"]`, 18 + 32, "PARAM-NAME longer than 32", parse.RFC5424},
	{"rfc5424/sd-value-unterminated", parse.Auto, `<1>1 - - - - - [a x="1]`, 23, "unterminated PARAM-VALUE", parse.RFC5424},
	{"rfc5424/sd-value-escaped-quote-unterminated", parse.Auto, `<1>1 - - - - - [a x="1\"]`, 25, "unterminated PARAM-VALUE", parse.RFC5424},
	{"rfc5424/sd-missing-close", parse.Auto, `<1>1 - - - - - [a x="1"`, 23, "unterminated SD-ELEMENT", parse.RFC5424},
	{"rfc5424/sd-two-spaces", parse.Auto, `<1>1 - - - - - [a  x="1"]`, 18, "empty or invalid PARAM-NAME", parse.RFC5424},
}

func TestParseInvalid(t *testing.T) {
	for _, tc := range invalidTests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := parse.Parse([]byte(tc.in), tc.format, now, nil)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tc.in, fieldsOf(m))
			}
			var pe *parse.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q): error %T, want *ParseError", tc.in, err)
			}
			if pe.Offset != tc.off || !strings.Contains(pe.Reason, tc.reason) || pe.Format != tc.errFmt {
				t.Errorf("Parse(%q): got %v (format %v), want offset %d, format %v and a reason with %q",
					tc.in, err, pe.Format, tc.off, tc.errFmt, tc.reason)
			}
			if !fieldsOf(m).equal(fields{}) {
				t.Errorf("Parse(%q) returned %+v with its error, want the zero Message", tc.in, fieldsOf(m))
			}
		})
	}
}

func TestParseErrorString(t *testing.T) {
	_, err := parse.Parse([]byte("<165>1 2003-10-11 22:14:15.003Z"), parse.Auto, now, nil)
	if got, want := err.Error(), "syslog: rfc5424: offset 17: invalid timestamp"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	_, err = parse.Parse([]byte("<192>x"), parse.Auto, now, nil)
	if got, want := err.Error(), "syslog: offset 1: priority out of range 0-191"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFormatString(t *testing.T) {
	for f, want := range map[parse.Format]string{parse.Auto: "auto", parse.RFC5424: "rfc5424", parse.RFC3164: "rfc3164", 9: "format(9)"} {
		if got := f.String(); got != want {
			t.Errorf("Format(%d).String() = %q, want %q", f, got, want)
		}
	}
}

// TestParseNoAllocs checks that Parse does not allocate on success, on the
// benchmark messages and every valid test vector, and allocates only the
// error on failure.
func TestParseNoAllocs(t *testing.T) {
	inputs := []string{average5424, average3164}
	for _, tc := range validTests {
		inputs = append(inputs, tc.in)
	}
	for _, loc := range []*time.Location{nil, time.FixedZone("X", 3600)} {
		for _, in := range inputs {
			b := []byte(in)
			allocs := testing.AllocsPerRun(20, func() {
				if _, err := parse.Parse(b, parse.Auto, now, loc); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("Parse(%q) allocates %v times, want 0", in, allocs)
			}
		}
	}
	for _, tc := range invalidTests {
		b := []byte(tc.in)
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := parse.Parse(b, tc.format, now, nil); err == nil {
				t.Fatal("no error")
			}
		})
		if allocs > 1 {
			t.Errorf("Parse(%q) allocates %v times, want 1 (the error)", tc.in, allocs)
		}
	}
}

// checkInvariants checks what holds for every successful parse: each field
// is nil or a non-empty sub-slice of in, and Format is not Auto.
func checkInvariants(t testing.TB, in []byte, m parse.Message) {
	t.Helper()
	if m.Format != parse.RFC5424 && m.Format != parse.RFC3164 {
		t.Errorf("Parse(%q): Format %v", in, m.Format)
	}
	if (m.Format == parse.RFC5424) != (m.Version == 1) {
		t.Errorf("Parse(%q): Format %v with Version %d", in, m.Format, m.Version)
	}
	if m.Facility > 23 || m.Severity > 7 {
		t.Errorf("Parse(%q): facility %d, severity %d", in, m.Facility, m.Severity)
	}
	for name, f := range map[string][]byte{
		"Hostname": m.Hostname, "AppName": m.AppName, "ProcID": m.ProcID, "MsgID": m.MsgID,
		"StructuredData": m.StructuredData, "Msg": m.Msg,
	} {
		if f == nil {
			continue
		}
		if len(f) == 0 {
			t.Errorf("Parse(%q): %s is empty but not nil", in, name)
			continue
		}
		if !within(in, f) {
			t.Errorf("Parse(%q): %s %q does not point into the input", in, name, f)
		}
	}
}

// within reports whether sub is a sub-slice of b (same backing array,
// inside its bounds).
func within(b, sub []byte) bool {
	if len(sub) == 0 || len(b) == 0 {
		return len(sub) == 0
	}
	for i := range b {
		if &b[i] == &sub[0] {
			return i+len(sub) <= len(b)
		}
	}
	return false
}

// TestParserMatchesParse parses a stream whose timestamps share their
// second, then differ from the one before in a single byte of the date
// or time (into an invalid one too), in RFC 5424 and as an RFC 3164
// header's RFC 3339 timestamp: a Parser, which remembers the last date
// and time, must give what Parse gives for each.
func TestParserMatchesParse(t *testing.T) {
	var lines []string
	for _, ts := range []string{
		"2026-11-24T12:00:00.000001Z", "2026-11-24T12:00:00.5Z", "2026-11-24T12:00:00Z", "2026-11-24T12:00:00+02:00",
		"2026-11-24T12:00:01.000001Z", "2026-11-24T12:01:01.000001Z", "2026-11-24T13:01:01.000001Z", "2026-11-25T13:01:01.000001Z",
		"2026-12-25T13:01:01.000001Z", "2027-12-25T13:01:01.000001Z", "2027-12-25T13:01:01.000001Z", "2027-12-25T13:01:61.000001Z",
		"2027-12-25T13:01:01.000001Z", "2027-02-29T13:01:01.000001Z", "2028-02-29T13:01:01.000001Z", "2028-02-29T13:01:01.Z",
		"2028-02-29T13:01:01.000001-07:30", "2028-02-29 13:01:01.000001Z",
	} {
		lines = append(lines, "<34>1 "+ts+" host app 42 ID1 - msg", "<34>"+ts+" host app[42]: msg")
	}
	var p parse.Parser
	for _, l := range lines {
		for _, f := range []parse.Format{parse.Auto, parse.RFC5424, parse.RFC3164} {
			want, werr := parse.Parse([]byte(l), f, now, time.UTC)
			got, gerr := p.Parse([]byte(l), f, now, time.UTC)
			if fmt.Sprint(gerr) != fmt.Sprint(werr) || !fieldsOf(got).equal(fieldsOf(want)) || got.Timestamp.Location() != want.Timestamp.Location() {
				t.Errorf("%v %q: Parser gives %+v, %v; Parse %+v, %v", f, l, fieldsOf(got), gerr, fieldsOf(want), werr)
			}
		}
	}
}

// TestFraction parses fractions of 1 to 10 digits followed by each kind
// of byte, both where eight bytes can be read at once (a message goes
// on after the timestamp) and where they cannot (it ends there), in
// RFC 5424 and as an RFC 3164 header's timestamp (an RFC 5424 message
// cannot end there): the two ways of reading digits must agree with
// time.Parse, and fail alike.
func TestFraction(t *testing.T) {
	const digits = "1234567890"
	for k := 1; k <= 10; k++ {
		for _, after := range []string{"Z", "+01:00", "/", ":", "\xc3", " "} {
			for _, tail := range []string{"", " host app - - - a message that goes on"} {
				ts := "2026-11-24T12:00:00." + digits[:k] + after
				want, werr := time.Parse(time.RFC3339Nano, ts)
				wantOK := werr == nil && k <= 9
				for _, l := range []string{"<34>1 " + ts + tail, "<34>" + ts + tail} {
					m, err := parse.Parse([]byte(l), parse.Auto, now, time.UTC)
					if l[4] == '1' { // RFC 5424: the timestamp is valid or the message fails
						if tail == "" {
							continue
						}
						if (err == nil) != wantOK || err == nil && !m.Timestamp.Equal(want) {
							t.Errorf("%q: got %v, %v; want %v (valid %v)", l, m.Timestamp, err, want, wantOK)
						}
						// It fails at the byte after the digits, or at the tenth.
						var pe *parse.ParseError
						if errors.As(err, &pe) && pe.Offset != len("<34>1 2026-11-24T12:00:00.")+min(k, 9) {
							t.Errorf("%q: error %v, want it at the byte after the fraction", l, err)
						}
						continue
					}
					// RFC 3164: an invalid timestamp is no header.
					if err != nil || wantOK && (!m.Timestamp.Equal(want) || string(m.Hostname) != "host" && tail != "") || !wantOK && !m.Timestamp.IsZero() {
						t.Errorf("%q: got %v %q, %v; want %v (valid %v)", l, m.Timestamp, m.Hostname, err, want, wantOK)
					}
				}
			}
		}
	}
}
