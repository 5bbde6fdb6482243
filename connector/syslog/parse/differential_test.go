package parse_test

// Differential tests against github.com/leodido/go-syslog/v4 (test-only
// dependency), in its strict (non-best-effort) mode.
//
// For every input both parsers accept, all fields must be equal: facility,
// severity, version, the timestamp's instant, hostname, app-name, procid,
// msgid, structured data (leodido's map against ours rendered through
// event.Syslog.Elements and event.UnescapeSD) and the message.
//
// Intentional differences, each pinned by an entry of differentialCorpus:
//
//   - Normalisation. We drop one trailing LF from the input (rsyslog's
//     DropTrailingLFOnReception) and a leading BOM from MSG (RFC 5424 says
//     it only marks MSG as UTF-8); leodido keeps both in the message. The
//     comparison removes them from leodido's message first. Dropping the LF
//     also lets us accept "… -\n", which leodido rejects.
//   - We reject what leodido accepts: VERSION other than 1 (leodido takes
//     1–999; a later version may not mean the same fields).
//   - We accept what leodido rejects: fractions of 7–9 digits; a backslash
//     before a byte other than '"', '\' or ']' in a PARAM-VALUE (RFC 5424
//     section 6.3.3 says to keep it as is, leodido errors); an unescaped ']'
//     in a PARAM-VALUE; PARAM-VALUEs that are not UTF-8; a repeated SD-ID.
//   - RFC 3164 (corpus only, no fuzz target: the format is too loosely
//     defined for field equality on arbitrary input): we accept messages
//     without a timestamp or with an unrecognisable one, keeping the text as
//     MSG, where leodido errors; an IPv6 address after the timestamp is our
//     HOSTNAME, where leodido takes "fe80" for a TAG and the rest for MSG;
//     we read "app[pid]:" only within one SP-separated token, where leodido
//     lets the pid contain SPs; we infer the year from the receive time,
//     where leodido is given a fixed year (the corpus avoids the
//     difference).

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	syslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/sluicehq/sluice/connector/syslog/parse"
	"github.com/sluicehq/sluice/event"
)

// diffFields is what the differential tests compare; "" stands for nil.
type diffFields struct {
	fac, sev, ver          uint8
	ts                     time.Time
	host, app, proc, msgID string
	sd                     map[string]map[string]string
	msg                    string
}

func (f diffFields) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fac=%d sev=%d ver=%d ts=%s host=%q app=%q proc=%q msgid=%q sd=",
		f.fac, f.sev, f.ver, f.ts.Format(time.RFC3339Nano), f.host, f.app, f.proc, f.msgID)
	for _, id := range slices.Sorted(maps.Keys(f.sd)) {
		fmt.Fprintf(&b, "[%q", id)
		for _, k := range slices.Sorted(maps.Keys(f.sd[id])) {
			fmt.Fprintf(&b, " %q=%q", k, f.sd[id][k])
		}
		b.WriteString("]")
	}
	fmt.Fprintf(&b, " msg=%q", f.msg)
	return b.String()
}

func (f diffFields) equal(g diffFields) bool {
	if !f.ts.Equal(g.ts) || f.ts.IsZero() != g.ts.IsZero() {
		return false
	}
	f.ts, g.ts = time.Time{}, time.Time{}
	return reflect.DeepEqual(f, g)
}

// ours parses in with Parse, in format f, and renders the result for
// comparison.
func ours(in []byte, f parse.Format) (diffFields, error) {
	m, err := parse.Parse(in, f, now, nil)
	if err != nil {
		return diffFields{}, err
	}
	d := diffFields{
		fac: m.Facility, sev: m.Severity, ver: m.Version, ts: m.Timestamp,
		host: string(m.Hostname), app: string(m.AppName), proc: string(m.ProcID), msgID: string(m.MsgID),
		msg: string(m.Msg),
	}
	if m.StructuredData != nil {
		s := event.Syslog{StructuredData: string(m.StructuredData)}
		d.sd = map[string]map[string]string{}
		for id, params := range s.Elements() {
			if d.sd[id] == nil {
				d.sd[id] = map[string]string{}
			}
			for k, v := range params {
				d.sd[id][k] = event.UnescapeSD(v)
			}
		}
	}
	return d, nil
}

// theirs renders leodido's result for comparison, after the normalisation
// described at the top of this file.
func theirs(msg syslog.Message, ver uint8) diffFields {
	var base *syslog.Base
	var sd *map[string]map[string]string
	switch m := msg.(type) {
	case *rfc5424.SyslogMessage:
		base, sd = &m.Base, m.StructuredData
	case *rfc3164.SyslogMessage:
		base = &m.Base
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	d := diffFields{ver: ver, host: str(base.Hostname), app: str(base.Appname), proc: str(base.ProcID), msgID: str(base.MsgID)}
	if base.Facility != nil {
		d.fac, d.sev = *base.Facility, *base.Severity
	}
	if base.Timestamp != nil {
		d.ts = *base.Timestamp
	}
	if sd != nil {
		d.sd = *sd
	}
	m := str(base.Message)
	m = strings.TrimSuffix(m, "\n")
	m = strings.TrimPrefix(m, "\xEF\xBB\xBF")
	d.msg = m
	return d
}

// leodido5424 parses in with leodido's strict RFC 5424 parser.
func leodido5424(in []byte) (diffFields, error) {
	msg, err := rfc5424.NewParser().Parse(in)
	if err != nil {
		return diffFields{}, err
	}
	d := theirs(msg, 0)
	if v := msg.(*rfc5424.SyslogMessage).Version; v <= 255 {
		d.ver = uint8(v)
	}
	return d, nil
}

// leodido3164 parses in with leodido's strict RFC 3164 parser, configured
// as Parse is in the tests: UTC, RFC 3339 timestamps allowed, and the year
// that Parse infers from now for the test messages.
func leodido3164(in []byte) (diffFields, error) {
	msg, err := rfc3164.NewParser(
		rfc3164.WithYear(rfc3164.Year{YYYY: 2025}),
		rfc3164.WithLocaleTimezone(time.UTC),
		rfc3164.WithRFC3339(),
	).Parse(in)
	if err != nil {
		return diffFields{}, err
	}
	return theirs(msg, 0), nil
}

// Which parsers accept an input of differentialCorpus.
const (
	both    = "both"
	neither = "neither"
	onlyUs  = "only ours"
	onlyLeo = "only leodido"
	// differ: both accept, and the fields differ on purpose.
	differ = "both, with different fields"
)

var differentialCorpus = []struct {
	format parse.Format
	in     string
	accept string
}{
	// RFC 5424 section 6.5.
	{parse.RFC5424, "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - " + bom + "'su root' failed for lonvick on /dev/pts/8", both},
	{parse.RFC5424, "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.", both},
	{parse.RFC5424, `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] ` + bom + "An application event log entry...", both},
	{parse.RFC5424, `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`, both},
	// rsyslog tests/fuzz/corpus/syslog-message.
	{parse.RFC5424, "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\"] An application event log entry\n", both},
	{parse.RFC5424, "<34>1 2026-07-23T09:30:45+02:00 host app 123 msg [meta@32473 value=\"escaped\\]bracket\" quote=\"\\\"\"] payload\n", both},
	{parse.RFC5424, "<13>1 - - - - - - minimal\n", both},
	// leodido/go-syslog rfc5424 test and benchmark vectors.
	{parse.RFC5424, average5424, both},
	{parse.RFC5424, `<78>1 2016-01-15T00:04:01Z host1 CROND 10391 - [meta sequenceId="29" sequenceBlah="foo"][my key="value"] some_message`, both},
	{parse.RFC5424, "<1>1 - - - - - -", both},
	{parse.RFC5424, "<0>1 - - - - - -", both},
	{parse.RFC5424, "<1>1 - - - - - - x\x0Ay", both},
	{parse.RFC5424, "<1>1 - - - - - - " + bom + "κόσμε", both},
	{parse.RFC5424, "<1>1 - - - - - - " + bom, both},
	{parse.RFC5424, "<0>1 - - - - - - ⠊⠀⠉⠁⠝⠀⠑⠁⠞⠀⠛⠇⠁⠎⠎", both},
	{parse.RFC5424, "<29>1 2016-01-15T01:00:43Z hn S - - [meta es=\"\t5Ὂg̀9!℃ᾭGa b\"] 127.0.0.1 - - 1452819643 \"GET\"", both},
	{parse.RFC5424, `<165>1 2003-10-11T22:14:15.003Z example.com evnts - ID27 [id1 a="\\x"][id2 b="\"" c="\]"]`, both},
	{parse.RFC5424, "<191>1 2018-12-31T23:59:59.999999-23:59 " + strings.Repeat("h", 255) + " " + strings.Repeat("a", 48) + " " +
		strings.Repeat("p", 128) + " " + strings.Repeat("m", 32) + ` [an@id key1="val1" key2="val2"][another@id key1="val1"] Some message "GET"`, both},
	{parse.RFC5424, "<1>1 0000-01-01T00:00:00Z - - - - -", both},
	{parse.RFC5424, "<1>1 9999-12-31T23:59:59.999999+23:59 - - - - -", both},
	{parse.RFC5424, "<1>1 2000-02-29T00:00:00.1-00:00 - - - - -", both},
	{parse.RFC5424, `<1>1 - - - - - [a x="" y="=" z=" "][b] `, both},
	{parse.RFC5424, `<1>1 - - - - - [a x="1" x="2"]`, both},
	{parse.RFC5424, "<1>1 - - - - - -  two spaces", both},
	{parse.RFC5424, "<1>1 - - - - - - a\r\x00b", both},
	{parse.RFC5424, "<1>1 - - - - - - \n", both},
	{parse.RFC5424, "<1>1 - -   - - -", neither},
	{parse.RFC5424, "<1>1 - - - - - X", neither},
	{parse.RFC5424, "<1>1 - - - - - []", neither},
	{parse.RFC5424, "<1>1 - - - - - [=]", neither},
	{parse.RFC5424, "<101>1 2003-09-31T22:14:15.003Z - - - - -", neither},
	{parse.RFC5424, "<101>1 2018-02-29T22:14:16+01:00 - - - - -", neither},
	{parse.RFC5424, "<101>1 2003-08-24T05:14:15.000003-24:00 - - - - -", neither},
	{parse.RFC5424, "<192>1 - - - - - -", neither},
	{parse.RFC5424, "<002>1 - - - - - -", neither},
	{parse.RFC5424, "<1>1 - abcdefghilmnopqrstuvzabcdefghilmnopqrstuvzabcdefghilmnopqrstuvzabcdefghilmnopqrstuvzabcdefghilmnopqrstuvzabcdefghilmnopqrstuvzabcdefghilmnopqrstuvzabcdefghilmnopqrstuvzabcdefghilmnopqrstuvzabcdefghilmnopqrstuvzabcdefghilmnopqrstuvzabcdefghilmnopqrstuvzabcX - - - -", neither},
	// Intentional differences.
	{parse.RFC5424, "<1>1 - - - - - -\n", onlyUs},
	{parse.RFC5424, "<1>1 2003-08-24T05:14:15.000000003-07:00 - - - - -", onlyUs},
	{parse.RFC5424, `<1>1 - - - - - [a x="\n"]`, onlyUs},
	{parse.RFC5424, `<1>1 - - - - - [a x="]"]`, onlyUs},
	{parse.RFC5424, "<1>1 - - - - - [a x=\"\xff\"]", onlyUs},
	{parse.RFC5424, `<165>1 2003-10-11T22:14:15.003Z example.com evnts - ID27 [id1][id1]`, onlyUs},
	{parse.RFC5424, "<1>8 - - - - - - " + bom, onlyLeo},
	{parse.RFC5424, "<187>222 - mymachine.example.com su - ID47 - 'su root' failed for lonvick on /dev/pts/8", onlyLeo},

	// RFC 3164.
	{parse.RFC3164, "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8", both},
	{parse.RFC3164, "<13>Nov  5 17:32:18 10.0.0.99 myapp[1234]: Use the BFG!", both},
	{parse.RFC3164, "<13>Dec 31 23:59:59 host sshd[42]: Accepted publickey\n", both},
	{parse.RFC3164, average3164, both},
	{parse.RFC3164, "<13>2026-07-23T09:30:45.123+02:00 host daemon: timestamp variant", both},
	{parse.RFC3164, "<13>Nov 24 10:00:00 host just some text", both},
	{parse.RFC3164, "<0>x", onlyUs},
	// leodido reads a hostname-less message whose TAG "fe80" is not
	// followed by ": ", so all of "fe80::1 app: x" is MSG.
	{parse.RFC3164, "<13>Nov 24 10:00:00 fe80::1 app: x", differ},
	{parse.RFC3164, "<192>Nov 24 10:00:00 host app: x", neither},
}

func TestDifferential(t *testing.T) {
	for _, tc := range differentialCorpus {
		name := tc.format.String() + "/" + tc.in
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			in := []byte(tc.in)
			got, err := ours(in, tc.format)
			var want diffFields
			var lerr error
			if tc.format == parse.RFC5424 {
				want, lerr = leodido5424(in)
			} else {
				want, lerr = leodido3164(in)
			}
			accept := map[[2]bool]string{{true, true}: both, {false, false}: neither, {true, false}: onlyUs, {false, true}: onlyLeo}[[2]bool{err == nil, lerr == nil}]
			if accept == both && tc.accept == differ {
				if got.equal(want) {
					t.Errorf("%q: same fields, want a difference: %v", tc.in, got)
				}
				return
			}
			if accept != tc.accept {
				t.Fatalf("%q: accepted by %s, want %s (ours: %v; leodido: %v)", tc.in, accept, tc.accept, err, lerr)
			}
			if accept == both && !got.equal(want) {
				t.Errorf("%q:\n    ours %v\nleodido %v", tc.in, got, want)
			}
		})
	}
}

// FuzzDifferential5424 checks that when both Parse (as RFC 5424) and
// leodido's strict RFC 5424 parser accept an input, every field is equal
// (see the top of this file for what "equal" means).
func FuzzDifferential5424(f *testing.F) {
	for _, tc := range differentialCorpus {
		if tc.format == parse.RFC5424 {
			f.Add([]byte(tc.in))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := ours(in, parse.RFC5424)
		if err != nil {
			return
		}
		want, lerr := leodido5424(in)
		if lerr != nil {
			return
		}
		if !got.equal(want) {
			t.Errorf("%q:\n    ours %v\nleodido %v", in, got, want)
		}
	})
}
