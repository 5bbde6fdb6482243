package abi_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/wasm/abi"
)

func TestRoundTrip(t *testing.T) {
	in := []event.Event{
		{Raw: []byte("one"), Source: "s", ReceivedAt: time.Unix(1, 2).UTC()},
		{Raw: []byte("two"), Fields: []event.Field{{Name: "a", Value: "b"}}, Syslog: event.Syslog{Present: true, Message: "m"}},
	}
	var w abi.Writer
	w.Reset(false)
	for i := range in {
		w.AddInput(&in[i])
	}
	var got []event.Event
	if err := abi.ReadInput(w.Bytes(), func(i int, e *event.Event) error {
		got = append(got, *e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !same(got[0], in[0]) || !same(got[1], in[1]) {
		t.Fatalf("input round trip: %+v", got)
	}

	w.Reset(true)
	w.AddOutput(1, "", &in[1])
	w.AddOutput(abi.NoInput, "alerts", &in[0])
	var outs []abi.Output
	if err := abi.ReadOutput(w.Bytes(), 2, func(o *abi.Output) error {
		outs = append(outs, *o)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(outs) != 2 || outs[0].From != 1 || outs[0].Route != "" || outs[1].From != abi.NoInput || outs[1].Route != "alerts" ||
		!same(outs[1].Event, in[0]) {
		t.Fatalf("output round trip: %+v", outs)
	}

	w.Reset(true)
	w.AddOutput(0, "", &in[0])
	w.Fail("bad config")
	err := abi.ReadOutput(w.Bytes(), 1, func(*abi.Output) error { t.Fatal("an event of a failed batch"); return nil })
	if !errors.Is(err, abi.ErrGuest) || err.Error() != "guest error: bad config" {
		t.Fatalf("err = %v", err)
	}
}

// same compares events by their JSON encoding.
func same(a, b event.Event) bool { return string(a.AppendJSON(nil)) == string(b.AppendJSON(nil)) }

func TestMalformed(t *testing.T) {
	var w abi.Writer
	w.Reset(true)
	e := event.Event{Raw: []byte("x")}
	w.AddOutput(0, "", &e)
	good := append([]byte(nil), w.Bytes()...)
	for _, tc := range []struct {
		name   string
		b      []byte
		inputs int
		want   string
	}{
		{"empty", nil, 1, "status: truncated at byte 0"},
		{"unknown status", []byte{7, 0, 0, 0}, 1, "unknown status 7"},
		{"no count", good[:4], 1, "count: truncated"},
		{"truncated", good[:len(good)-1], 1, "output 0: event: length"},
		{"trailing", append(append([]byte(nil), good...), 0), 1, "1 bytes after the last event"},
		{"from past inputs", good, 0, "output 0: from 0, but the batch has 0 events"},
		{"bad record", badVersion(good), 1, "output 0: event: decode record: unknown version 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := abi.ReadOutput(tc.b, tc.inputs, func(*abi.Output) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want …%s…", err, tc.want)
			}
		})
	}
}

// badVersion returns b, an output batch of one event, with its record's
// version byte (after status, count, from, route length and length) 9.
func badVersion(b []byte) []byte {
	b = append([]byte(nil), b...)
	b[20] = 9
	return b
}

// FuzzReadOutput: whatever a guest returns, reading it gives events or an
// error, never a panic or an event past the input.
func FuzzReadOutput(f *testing.F) {
	var w abi.Writer
	w.Reset(true)
	e := event.Event{Raw: []byte("x"), Fields: []event.Field{{Name: "a", Value: "b"}}}
	w.AddOutput(0, "r", &e)
	w.AddOutput(abi.NoInput, "", &e)
	f.Add(append([]byte(nil), w.Bytes()...), 1)
	f.Add([]byte{1, 0, 0, 0, 'e'}, 0)
	f.Fuzz(func(t *testing.T, b []byte, inputs int) {
		inputs &= 0xff
		_ = abi.ReadOutput(b, inputs, func(o *abi.Output) error {
			if o.From != abi.NoInput && int(o.From) >= inputs {
				t.Fatalf("from %d of %d inputs", o.From, inputs)
			}
			return nil
		})
		_ = abi.ReadInput(b, func(int, *event.Event) error { return nil })
	})
}

// ABI version 1 carries record version 2 (docs/wasm.md): guests read it.
// A new record version needs a new ABI version, which this test is here
// to remind of.
func TestRecordVersion(t *testing.T) {
	var w abi.Writer
	w.Reset(false)
	w.AddInput(&event.Event{Raw: []byte("x")})
	b := w.Bytes() // count, length, then the record
	if len(b) < 9 || b[8] != 2 {
		t.Fatalf("input batch %x: want record version 2; a new record version needs ABI version %d", b, abi.Version+1)
	}
}
