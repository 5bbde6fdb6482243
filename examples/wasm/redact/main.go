// Command redact is a sluice wasm handler: it replaces every run of 12 or
// more digits with "[redacted]" everywhere in an event, raw line included,
// and drops lines containing "DEBUG". Build it as a reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o redact.wasm
//
// It reads each event in place (guest.HandleView) and sends back only the
// strings it changed, written straight into the output (Out.Begin and
// End): an event without a run of digits costs the host nothing but a
// Keep.
package main

import (
	"math/bits"

	"github.com/sluicehq/sluice/examples/wasm/redact/redaction"
	"github.com/sluicehq/sluice/handler/wasm/abi"
	"github.com/sluicehq/sluice/handler/wasm/guest"
)

func init() {
	guest.HandleView(func(v *guest.View, out *guest.Out) error {
		if redaction.Drop(v.String(abi.SlotRaw), v.String(abi.SlotSyslogMessage)) {
			return nil // dropped
		}
		// Only strings long enough to hold a run of digits.
		for m := v.Long(redaction.MinDigits); m != 0; m &= m - 1 {
			// redact's body, written out: Go does not inline it, and in a
			// wasm guest a call costs more than a few lines.
			slot := uint32(bits.TrailingZeros32(m))
			s := v.String(slot)
			if at := redaction.First(s); at >= 0 {
				out.End(redaction.AppendFrom(out.Begin(slot), s, at))
			}
		}
		for j := range v.Fields() {
			name, value := v.Field(j)
			redact(out, abi.FieldSlot+2*uint32(j), name)
			redact(out, abi.FieldSlot+2*uint32(j)+1, value)
		}
		out.Keep()
		return nil
	})
}

// redact replaces string slot with s redacted, if s has a run of digits,
// writing it straight into the output.
func redact(out *guest.Out, slot uint32, s string) {
	if at := redaction.First(s); at >= 0 {
		out.End(redaction.AppendFrom(out.Begin(slot), s, at))
	}
}

func main() {}
