// Command redact is a sluice wasm handler: it replaces every run of 12 or
// more digits with "[redacted]" everywhere in an event, raw line included,
// and drops lines containing "DEBUG". Build it as a reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o redact.wasm
//
// It reads each event in place (guest.HandleView) and sends back only
// what it changed: for each run, where it is and the mask (Out.Edit),
// which the host splices in. An event without a run of digits costs the
// host nothing but a Keep.
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
			slot := uint32(bits.TrailingZeros32(m))
			s := v.String(slot)
			// redact's body, written out: Go does not inline it, and in a
			// wasm guest a call costs more than a few lines.
			start, end := redaction.Run(s)
			for shift := 0; start >= 0; {
				out.Edit(slot, uint32(start+shift), uint32(end-start), redaction.Mask)
				shift += len(redaction.Mask) - (end - start)
				if len(s)-end < redaction.MinDigits {
					break
				}
				next, nextEnd := redaction.Run(s[end:])
				start, end = end+next, end+nextEnd
				if next < 0 {
					break
				}
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

// redact replaces each run of digits in string slot, s, with the mask:
// by edits, which the host makes.
func redact(out *guest.Out, slot uint32, s string) {
	start, end := redaction.Run(s)
	for shift := 0; start >= 0; { // an edit's offset is in the string as the edits before left it
		out.Edit(slot, uint32(start+shift), uint32(end-start), redaction.Mask)
		shift += len(redaction.Mask) - (end - start)
		if len(s)-end < redaction.MinDigits {
			break
		}
		next, nextEnd := redaction.Run(s[end:])
		start, end = end+next, end+nextEnd
		if next < 0 {
			break
		}
	}
}

func main() {}
