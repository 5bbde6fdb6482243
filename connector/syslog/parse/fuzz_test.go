package parse_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/syslog/parse"
)

// FuzzParse parses arbitrary input in each format and checks that:
//
//   - Parse does not panic;
//   - on success, every field is nil or a non-empty sub-slice of the input,
//     Format is RFC5424 or RFC3164 and matches Version, PRI is in range;
//   - on failure, the error is a *ParseError with an offset within
//     [0, len(input)] and a non-empty reason, and the Message is zero;
//   - parsing again gives the same result (no hidden state);
//   - a Parser gives Parse's result, whatever it parsed before: the same
//     input, or the input with one of its first 40 bytes changed (so that
//     the timestamp it remembers differs from this one by a byte);
//   - Auto gives the same result as the format it detects.
func FuzzParse(f *testing.F) {
	for _, tc := range validTests {
		f.Add([]byte(tc.in), uint8(tc.format))
	}
	for _, tc := range invalidTests {
		f.Add([]byte(tc.in), uint8(tc.format))
	}
	for _, tc := range differentialCorpus {
		f.Add([]byte(tc.in), uint8(parse.Auto))
	}
	loc := time.FixedZone("X", -7*3600)
	stale, err := parse.Parse([]byte(`<13>1 2026-12-06T10:00:00.5+02:00 h app 1 m [a b="c"] stale`), parse.RFC5424, now, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte, format uint8) {
		fm := parse.Format(format % 3)
		m, err := parse.Parse(in, fm, now, loc)
		again, err2 := parse.Parse(in, fm, now, loc)
		if !sameResult(m, err, again, err2) {
			t.Fatalf("Parse(%q, %v) is not deterministic: %+v, %v then %+v, %v", in, fm, fieldsOf(m), err, fieldsOf(again), err2)
		}
		var p parse.Parser
		for range 2 { // remembering nothing, then this input's timestamp
			pm, perr := p.Parse(in, fm, now, loc)
			if !sameResult(m, err, pm, perr) {
				t.Fatalf("Parser.Parse(%q, %v) = %+v, %v; Parse gives %+v, %v", in, fm, fieldsOf(pm), perr, fieldsOf(m), err)
			}
			into := stale // ParseTo sets every field: nothing stale shows
			terr := p.ParseTo(&into, in, fm, now, loc)
			if !sameResult(m, err, into, terr) {
				t.Fatalf("Parser.ParseTo(%q, %v) = %+v, %v; Parse gives %+v, %v", in, fm, fieldsOf(into), terr, fieldsOf(m), err)
			}
			if terr != nil && (!fieldsOf(into).equal(fields{}) || !into.Timestamp.IsZero()) {
				t.Fatalf("Parser.ParseTo(%q, %v) left %+v with its error", in, fm, fieldsOf(into))
			}
		}
		before := make([]byte, len(in))
		for k := range min(len(in), 40) {
			copy(before, in)
			before[k]++
			_, _ = p.Parse(before, fm, now, loc)
			if pm, perr := p.Parse(in, fm, now, loc); !sameResult(m, err, pm, perr) {
				t.Fatalf("Parser.Parse(%q, %v) after %q = %+v, %v; Parse gives %+v, %v", in, fm, before, fieldsOf(pm), perr, fieldsOf(m), err)
			}
		}
		if err != nil {
			var pe *parse.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q, %v): error %T, want *ParseError", in, fm, err)
			}
			if pe.Offset < 0 || pe.Offset > len(in) || pe.Reason == "" {
				t.Errorf("Parse(%q, %v): %v: offset or reason out of bounds", in, fm, err)
			}
			if !fieldsOf(m).equal(fields{}) {
				t.Errorf("Parse(%q, %v) returned %+v with its error", in, fm, fieldsOf(m))
			}
		} else {
			checkInvariants(t, in, m)
		}
		if fm != parse.Auto {
			return
		}
		detected := m.Format
		if err != nil {
			detected = err.(*parse.ParseError).Format
		}
		if detected == parse.Auto {
			return // invalid PRI: no format detected
		}
		m2, err2 := parse.Parse(in, detected, now, loc)
		if !sameResult(m, err, m2, err2) {
			t.Errorf("Parse(%q): Auto gives %+v, %v; %v gives %+v, %v", in, fieldsOf(m), err, detected, fieldsOf(m2), err2)
		}
	})
}

// sameResult reports whether two results of Parse are the same: equal
// fields pointing at the same bytes, or equal errors.
func sameResult(m1 parse.Message, err1 error, m2 parse.Message, err2 error) bool {
	if (err1 == nil) != (err2 == nil) {
		return false
	}
	if err1 != nil {
		return err1.Error() == err2.Error()
	}
	same := func(a, b []byte) bool {
		return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
	}
	return fieldsOf(m1).equal(fieldsOf(m2)) && m1.Timestamp.Location() == m2.Timestamp.Location() &&
		same(m1.Hostname, m2.Hostname) && same(m1.AppName, m2.AppName) && same(m1.ProcID, m2.ProcID) &&
		same(m1.MsgID, m2.MsgID) && same(m1.StructuredData, m2.StructuredData) && same(m1.Msg, m2.Msg)
}
