package guest_test

import (
	"errors"
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

	batch := func(lines ...string) []byte {
		var w abi.Writer
		w.Reset(false)
		for _, l := range lines {
			w.AddInput(&event.Event{Raw: []byte(l)})
		}
		return w.Bytes()
	}
	var got []string
	err := abi.ReadOutput(guest.Process(batch("a", "drop", "alert")), 3, func(o *abi.Output) error {
		got = append(got, string(o.Event.Raw)+"@"+o.Route+string(rune('0'+o.From)))
		return nil
	})
	if err != nil || strings.Join(got, " ") != "a@0 alert@2 ALERT@alerts2" {
		t.Errorf("got %q, %v", got, err)
	}
	err = abi.ReadOutput(guest.Process(batch("a", "fail")), 2, func(*abi.Output) error { return nil })
	if !errors.Is(err, abi.ErrGuest) || !strings.Contains(err.Error(), "cannot handle fail") {
		t.Errorf("err = %v", err)
	}
}
