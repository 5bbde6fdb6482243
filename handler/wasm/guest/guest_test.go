package guest_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/wasm/abi"
	"github.com/sluicehq/sluice/handler/wasm/guest"
)

// The SDK's handle path, run natively: every event reaches the handler
// with its index as from, Emit and EmitTo frame the output, an error fails
// the batch with its message, and Init gets the config.
func TestProcess(t *testing.T) {
	var cfg string
	guest.Init(func(c []byte) error {
		cfg = string(c)
		if cfg == `"bad"` {
			return errors.New("bad config")
		}
		return nil
	})
	guest.Handle(func(e *event.Event, out *guest.Out) error {
		switch string(e.Raw) {
		case "fail":
			return errors.New("cannot handle fail")
		case "drop":
		case "alert":
			out.Emit(e)
			out.EmitTo("alerts", &event.Event{Raw: []byte("ALERT")})
		default:
			out.Emit(e)
		}
		return nil
	})
	if msg := guest.Configure([]byte(`{"a": 1}`)); msg != "" || cfg != `{"a": 1}` {
		t.Errorf("Configure = %q, config %q", msg, cfg)
	}
	if msg := guest.Configure([]byte(`"bad"`)); msg != "bad config" {
		t.Errorf("Configure = %q", msg)
	}

	in := []event.Event{{Raw: []byte("a")}, {Raw: []byte("drop")}, {Raw: []byte("alert")}, {Raw: []byte("fail")}}
	batch := func(n int) []byte { return inputOf(in[:n]) }
	got, err := outputOf(in, batch(3), 3)
	// The unchanged event is kept (kind 0); the new one differs from its
	// input only in Raw: a patch (1).
	if err != nil || strings.Join(got, " ") != "a@0/0 alert@2/0 ALERT@alerts2/1" {
		t.Errorf("got %q, %v", got, err)
	}
	err = abi.ReadOutput(guest.Process(batch(4)), abi.Version, 4, nil, func(*abi.Output) error { return nil })
	if !errors.Is(err, abi.ErrGuest) || !strings.Contains(err.Error(), "cannot handle fail") {
		t.Errorf("err = %v", err)
	}
}

// A view handler reads each event in place: Set (or Begin and End) and
// Keep send back only the strings set, an event not kept is dropped,
// KeepTo emits to another route, and an error fails the batch.
func TestProcessView(t *testing.T) {
	t.Cleanup(func() { guest.Handle(nil) })
	guest.HandleView(func(v *guest.View, out *guest.Out) error {
		switch raw := v.String(abi.SlotRaw); raw {
		case "fail":
			return errors.New("cannot handle fail")
		case "drop":
			out.Set(abi.SlotRaw, "set, but not kept")
		case "alert":
			out.Keep()
			out.Set(abi.SlotRaw, "ALERT "+raw)
			out.KeepTo("alerts")
		case "a":
			out.Keep()
		case "begun":
			out.Begin(abi.SlotRaw) // not ended: dropped by the Keep
			out.Keep()
		case "append":
			out.End(append(out.Begin(abi.SlotRaw), "appended "+raw...))
			out.Keep()
		default:
			out.Set(abi.SlotRaw, strings.ToUpper(raw))
			out.Keep()
		}
		return nil
	})
	in := []event.Event{{Raw: []byte("a")}, {Raw: []byte("drop")}, {Raw: []byte("alert")}, {Raw: []byte("up")}, {Raw: []byte("begun")},
		{Raw: []byte("append")}, {Raw: []byte("fail")}}
	batch := func(n int) []byte { return inputOf(in[:n]) }
	got, err := outputOf(in, batch(6), 6)
	if err != nil || strings.Join(got, " ") != "a@0/0 alert@2/0 ALERT alert@alerts2/1 UP@3/1 begun@4/1 appended append@5/1" {
		t.Errorf("got %q, %v", got, err)
	}
	err = abi.ReadOutput(guest.Process(batch(7)), abi.Version, 7, nil, func(*abi.Output) error { return nil })
	if !errors.Is(err, abi.ErrGuest) || !strings.Contains(err.Error(), "cannot handle fail") {
		t.Errorf("err = %v", err)
	}
}

// inputOf is the input the host writes for in.
func inputOf(in []event.Event) []byte {
	ev := func(i int) *event.Event { return &in[i] }
	b := make([]byte, abi.InputSize(len(in), ev))
	abi.PutInput(b, len(in), ev)
	return b
}

// outputOf runs the guest's Process on the first n events of in and
// reads its output as the host does, one "raw@routeFrom/kind" per message.
func outputOf(in []event.Event, input []byte, n int) ([]string, error) {
	var got []string
	err := abi.ReadOutput(guest.Process(input), abi.Version, n, func(i int) *event.Event { return &in[i] }, func(o *abi.Output) error {
		got = append(got, fmt.Sprintf("%s@%s%d/%d", o.Event.Raw, o.Route, o.From, o.Kind))
		return nil
	})
	return got, err
}
