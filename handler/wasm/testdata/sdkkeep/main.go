// Command sdkkeep is a guest that hands every event on unchanged: with
// the Go SDK, sdkdrop's cost plus that of Emit, for the benchmarks.
package main

import (
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/wasm/guest"
)

func init() {
	guest.Handle(func(e *event.Event, out *guest.Out) error {
		out.Emit(e)
		return nil
	})
}

func main() {}
