// Command redact is a sluice wasm handler: it replaces every run of 12 or
// more digits with "[redacted]" everywhere in an event, raw line included,
// and drops lines containing "DEBUG". Build it as a reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o redact.wasm
package main

import (
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/examples/wasm/redact/redaction"
	"github.com/sluicehq/sluice/handler/wasm/guest"
)

// r reuses one buffer for the strings it redacts: Emit copies them into
// the batch's output before the next event.
var r = redaction.Redactor{Reuse: true}

func init() {
	guest.Handle(func(e *event.Event, out *guest.Out) error {
		if r.Event(e) {
			out.Emit(e)
		}
		return nil
	})
}

func main() {}
