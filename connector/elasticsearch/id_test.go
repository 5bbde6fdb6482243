package elasticsearch

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/event"
)

// TestContentIDIsStable pins the content-derived _id: it must never
// change between versions or restarts, or a retry after an upgrade would
// store a second copy. The wanted values were computed apart from this
// code, with xxhsum -H2 (xxHash 0.8.1's XXH128) over the bytes the
// format documents, then base64url. Changing any hashed field changes
// the _id; fields outside it (receivedAt) do not.
func TestContentIDIsStable(t *testing.T) {
	at := time.Date(2026, 11, 24, 23, 0, 0, 123456789, time.UTC)
	full := event.Event{Time: at, ReceivedAt: at, Source: "syslog", Host: "10.0.0.1",
		File: event.File{Path: "/var/log/app.log", Offset: 4096},
		Raw:  []byte("<34>1 2026-11-24T23:00:00.123456789Z host app - - - user login failed")}
	var tmp []byte
	id := func(e event.Event) string {
		var b []byte
		b, tmp = appendID(b, tmp, &e)
		return string(b)
	}
	for _, tc := range []struct {
		name string
		e    event.Event
		want string
	}{
		{"every field", full, "Bp4H0c2k6BUQHTLovDDE3g"},
		{"zero time, no file", event.Event{Source: "s", Raw: []byte("x")}, "Mb5Dkzy3wduC2FRtUyQ1fQ"},
	} {
		if got := id(tc.e); got != tc.want {
			t.Errorf("%s: _id %q, want %q", tc.name, got, tc.want)
		}
	}
	base := id(full)
	for name, change := range map[string]func(*event.Event){
		"source":      func(e *event.Event) { e.Source = "syslogx" },
		"host":        func(e *event.Event) { e.Host = "10.0.0.2" },
		"path":        func(e *event.Event) { e.File.Path = "/var/log/app.log.1" },
		"offset":      func(e *event.Event) { e.File.Offset++ },
		"time":        func(e *event.Event) { e.Time = e.Time.Add(time.Nanosecond) },
		"raw":         func(e *event.Event) { e.Raw = append([]byte(nil), "<34>1 x"...) },
		"field edges": func(e *event.Event) { e.Source, e.Host = "syslog1", "0.0.0.1" },
	} {
		e := full
		change(&e)
		if id(e) == base {
			t.Errorf("changing %s kept the _id", name)
		}
	}
	e := full
	e.ReceivedAt = at.Add(time.Hour)
	if id(e) != base {
		t.Error("receivedAt changed the _id; it is not part of it")
	}
	dst := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { _, tmp = appendID(dst, tmp, &full) }); n != 0 {
		t.Errorf("%v allocations per _id, want 0", n)
	}
}
