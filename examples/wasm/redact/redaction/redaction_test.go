package redaction_test

import (
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
