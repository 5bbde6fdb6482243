// Package guest is the Go SDK for sluice wasm handlers: a guest is a Go
// program built with the standard toolchain as a WASI reactor,
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o x.wasm
//
// that registers its functions in an init function (a reactor's main never
// runs, but it must exist):
//
//	func init() {
//		guest.Init(func(config []byte) error { return json.Unmarshal(config, &cfg) })
//		guest.Handle(func(e *event.Event, out *guest.Out) error {
//			if keep(e) {
//				out.Emit(e)
//			}
//			return nil
//		})
//	}
//
//	func main() {}
//
// The package exports the functions of ABI version 3 (docs/wasm.md) when
// built for wasip1; elsewhere it builds without them, so that a guest's
// logic can be tested with go test.
package guest

import (
	"fmt"

	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/wasm/abi"
)

// Func handles one event of a batch: it emits what the event becomes (the
// event itself, a changed copy, several events, or none to drop it) with
// out. An error fails the whole batch, which the host sends to its dead
// letter with the error as reason. e and the memory it shares are valid
// only during the call; its strings and Raw are views into the batch the
// host wrote: change them by assigning new values, never by writing into
// Raw's bytes.
type Func func(e *event.Event, out *Out) error

// ViewFunc handles one event of a batch read in place: v reads the
// event's strings where the host wrote them, without building an
// event.Event; out.Set replaces some of them and out.Keep hands the event
// on (not calling Keep drops it). It is the cheapest way through a
// batch, most of all for a handler that passes most events on unchanged
// or changes a few strings. An error fails the whole batch. v and its
// strings are valid only during the call.
type ViewFunc func(v *View, out *Out) error

// View is an event of the batch read in place; see [ViewFunc]. Its
// String takes the slots of package abi (abi.SlotRaw, abi.SlotSyslogMessage,
// …), and its Event builds the whole event when a handler needs it.
type View = abi.View

var (
	handle     Func
	handleView ViewFunc
	config     = func([]byte) error { return nil }
)

// Handle registers f as the guest's handler, in place of any registered
// before. Call it from an init function.
func Handle(f Func) { handle, handleView = f, nil }

// HandleView registers f as the guest's handler, in place of any
// registered before. Call it from an init function.
func HandleView(f ViewFunc) { handle, handleView = nil, f }

// Init registers f to receive the handler's "config" (JSON; "null" when
// the config has none) once per instance, before any batch. An error makes
// the module fail to start, with the error as reason. Call it from an init
// function.
func Init(f func(config []byte) error) { config = f }

// Out collects the output of a batch.
type Out struct {
	w    abi.Writer
	in   abi.Input
	from uint32
}

// Emit sends e on down the handler's route, in place of the event being
// handled (whose key, topic and attributes it keeps). What the host
// already has is not sent back: the event handled, emitted unchanged,
// costs a few bytes; with only strings changed, those strings; anything
// else, the whole event.
func (o *Out) Emit(e *event.Event) { o.w.Emit(&o.in, o.from, "", e) }

// EmitTo sends e to the destinations of the named route instead, without
// running that route's handlers. The route must be listed in the
// handler's "emit" field, or the host fails the batch.
func (o *Out) EmitTo(route string, e *event.Event) { o.w.Emit(&o.in, o.from, route, e) }

// Set replaces string slot of the event being handled (abi.Slot*, or
// abi.FieldSlot+2j and abi.FieldSlot+2j+1 for the name and value of field
// j) in what the next Keep or KeepTo hands on; s is copied. The host
// fails the batch if the event lacks the slot (an HTTP slot of an event
// without HTTP, a field it does not have).
func (o *Out) Set(slot uint32, s string) { o.w.Set(o.from, slot, s) }

// Begin starts replacing string slot of the event being handled, as Set
// does, but without a copy: the new string is appended straight to the
// output batch. Append its bytes to the slice Begin returns (it is the
// batch so far: never change the bytes before its length) and pass the
// result to End, before any other use of o:
//
//	if at := find(s); at >= 0 {
//		out.End(appendRedacted(out.Begin(slot), s, at))
//	}
//
// Begin only when the string changes for sure: a string begun and not
// ended is dropped by the next use of o, but leaves the event a patch
// without strings.
func (o *Out) Begin(slot uint32) []byte { return o.w.Begin(o.from, slot) }

// End ends the string that Begin started; b is Begin's slice with the
// string's bytes appended.
func (o *Out) End(b []byte) { o.w.End(b) }

// Edit replaces the cut bytes from off on of string slot (as for Set)
// with repl, in what the next Keep hands on: off is in the string as the
// Sets and Edits of the slot before it left it. The host splices repl
// in, so only repl is copied: for changes within long strings. The host
// fails the batch if the cut runs past the string's end.
func (o *Out) Edit(slot, off, cut uint32, repl string) { o.w.Edit(o.from, slot, off, cut, repl) }

// Keep hands the event being handled on down the handler's route, as it
// came but for the strings Set since it began or since the last Keep:
// the host keeps its own copy, and only those strings are sent back.
func (o *Out) Keep() { o.w.Keep(o.from, "") }

// KeepTo is Keep to the destinations of the named route instead, as
// EmitTo.
func (o *Out) KeepTo(route string) { o.w.Keep(o.from, route) }

// Process runs the registered handler over input batch in and returns the
// output batch, valid until the next call. The exported handle function
// calls it; tests may too. It reuses its buffers from call to call.
func Process(in []byte) []byte {
	out := &theOut
	out.w.Reset()
	if handle == nil && handleView == nil {
		out.w.Fail("guest: no handler registered (call guest.Handle or guest.HandleView in an init function)")
		return out.w.Bytes()
	}
	if err := out.in.Reset(in); err != nil {
		out.w.Fail(err.Error())
		return out.w.Bytes()
	}
	if handleView != nil {
		// Every event checked first, in one loop: a call of View for
		// each costs a Go guest more than its checks.
		if err := out.in.Check(); err != nil {
			out.w.Fail(err.Error())
			return out.w.Bytes()
		}
		v := &theView
		for i := range out.in.Len() {
			out.in.At(i, v)
			out.from = uint32(i)
			if err := handleView(v, out); err != nil {
				out.w.Fail(err.Error())
				break
			}
		}
		*v = View{}
		return out.w.Bytes()
	}
	e := &theEvent
	for i := range out.in.Len() {
		err := out.in.Event(i, e)
		if err == nil {
			out.from = uint32(i)
			err = handle(e, out)
		}
		if err != nil {
			out.w.Fail(err.Error())
			break
		}
	}
	*e = event.Event{} // holds no view into the batch once it is gone
	return out.w.Bytes()
}

// Configure passes config to the function registered with Init and
// returns its error message, or "". The exported init function calls it.
func Configure(cfg []byte) string {
	if err := config(cfg); err != nil {
		return fmt.Sprint(err)
	}
	return ""
}

var (
	theOut   Out
	theEvent event.Event
	theView  View
)
