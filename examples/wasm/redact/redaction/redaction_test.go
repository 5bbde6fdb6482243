package redaction_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/examples/wasm/redact/redaction"
)

func TestEvent(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"no digits", "no digits"},
		{"11 digits 12345678901", "11 digits 12345678901"},
		{"123456789012", "[redacted]"},
		{"a123456789012b 1234567890123456789 c", "a[redacted]b [redacted] c"},
		{"12345678901 x 123456789012", "12345678901 x [redacted]"},
	} {
		e := event.Event{Raw: []byte(tc.in), Syslog: event.Syslog{Message: tc.in}}
		if !redaction.Event(&e) || string(e.Raw) != tc.want || e.Syslog.Message != tc.want {
			t.Errorf("%q: raw %q message %q, want %q", tc.in, e.Raw, e.Syslog.Message, tc.want)
		}
	}
	if e := (event.Event{Raw: []byte("x DEBUG y")}); redaction.Event(&e) {
		t.Error("a DEBUG line is kept")
	}
	fields := []event.Field{{Name: "card", Value: "4111111111111111"}}
	e := event.Event{Fields: fields, HTTP: &event.HTTP{UserAgent: "id=999999999999"}}
	redaction.Event(&e)
	if e.Fields[0].Value != "[redacted]" || e.HTTP.UserAgent != "id=[redacted]" {
		t.Errorf("fields %v, http %+v", e.Fields, e.HTTP)
	}
	if fields[0].Value != "4111111111111111" {
		t.Error("the shared Fields changed")
	}
}

// FuzzEvent checks the redaction against a regular expression doing the
// same: every run of MinDigits digits or more becomes the mask.
func FuzzEvent(f *testing.F) {
	for _, s := range []string{"", "123456789012", "a12345678901b123456789012c", "1234567890123 12345678901234567890123456",
		"x11111111111 222222222222y3333333333333"} {
		f.Add(s)
	}
	want := regexp.MustCompile(`[0-9]{12,}`)
	reused := redaction.Redactor{Reuse: true} // across inputs, as a guest does
	f.Fuzz(func(t *testing.T, s string) {
		e := event.Event{Raw: []byte(s), Host: s}
		keep := redaction.Event(&e)
		r := event.Event{Raw: []byte(s), Host: s, Syslog: event.Syslog{Message: s}}
		if reused.Event(&r) != keep || keep && (string(r.Raw) != string(e.Raw) || r.Host != e.Host || r.Syslog.Message != e.Host) {
			t.Fatalf("%q: reused %v %q %q %q, fresh %v %q %q", s, keep, r.Raw, r.Host, r.Syslog.Message, keep, e.Raw, e.Host)
		}
		if keep == strings.Contains(s, "DEBUG") {
			t.Fatalf("%q: keep %v", s, keep)
		}
		if !keep {
			return
		}
		w := want.ReplaceAllString(s, redaction.Mask)
		if string(e.Raw) != w || e.Host != w {
			t.Fatalf("%q: raw %q host %q, want %q", s, e.Raw, e.Host, w)
		}
	})
}
