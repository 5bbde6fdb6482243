package event_test

import (
	"testing"

	"github.com/sluicehq/sluice/event"
)

// TestTextAppendString checks Text.AppendString, with one Text reused
// across events as a caller may, against AppendString: the same bytes
// for strings inside raw (escaped and not), outside it, and after an
// event whose raw was written as rawBase64 or left out.
func TestTextAppendString(t *testing.T) {
	nginx, p1 := nginxLine(), p1Line("<72>1 2026-11-24T12:00:00.000000Z ingest-3 app 62728 ID47 - "+p1Msg, "")
	notUTF8 := event.Event{Raw: []byte("a\xffb"), Syslog: event.Syslog{Present: true, Message: "x"}}
	var txt event.Text
	for _, tc := range []struct {
		name string
		ev   event.Event
		o    event.JSONOptions
		s    []string
	}{
		{"nginx", nginx, event.JSONOptions{}, []string{nginx.Syslog.Message, nginx.Syslog.Hostname, "not \"in\" raw"}},
		{"rawBase64 after nginx", notUTF8, event.JSONOptions{}, []string{nginx.Syslog.Message, "x"}},
		{"p1", p1, event.JSONOptions{}, []string{p1.Syslog.Message, p1.Syslog.MsgID, nginx.Syslog.Message}},
		{"nginx again", nginx, event.JSONOptions{}, []string{nginx.Syslog.Message}},
		{"raw left out after nginx", nginx, event.JSONOptions{OmitParsedRaw: true}, []string{nginx.Syslog.Message, nginx.Syslog.AppName}},
	} {
		buf := tc.ev.AppendJSONText([]byte("prefix"), tc.o, &txt)
		if want := tc.ev.AppendJSONWith([]byte("prefix"), tc.o); string(buf) != string(want) {
			t.Errorf("%s: AppendJSONText\n got %s\nwant %s", tc.name, buf, want)
		}
		for _, s := range tc.s {
			got := txt.AppendString(buf, s)[len(buf):]
			if want := event.AppendString(nil, s); string(got) != string(want) {
				t.Errorf("%s: AppendString(%.30q) = %s, want %s", tc.name, s, got, want)
			}
		}
	}
}
