// Command sdkdrop is a guest that drops every event: with the Go SDK, the
// cost of a batch's host side and of reading its events, for the
// benchmarks.
package main

import (
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/wasm/guest"
)

func init() {
	guest.Handle(func(*event.Event, *guest.Out) error { return nil })
}

func main() {}
