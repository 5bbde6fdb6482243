// Package abi encodes the batches that the wasm handler and its guests
// exchange: ABI version 1, described in docs/wasm.md. The host and the Go
// guest SDK both use it.
//
// An input batch, written by the host into guest memory, is
//
//	count   u32
//	count × (length u32, event record [length]byte)
//
// and an output batch, returned by the guest, is
//
//	status  u32: 0 ok, then the rest below; 1 error, then a UTF-8 message to the end
//	count   u32
//	count × (from u32, routeLength u32, route [routeLength]byte, length u32, event record [length]byte)
//
// where u32 is little-endian, an event record is the record encoding of
// package event (version 1, see event.AppendRecord), from is the index of
// the input event the output derives from (its key, topic and attributes
// carry over) or [NoInput], and route is empty for the handler's own route
// or names another route.
package abi

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/event"
)

// Version is the ABI version this package speaks.
const Version = 1

// The exports a guest module has. Every one is required.
const (
	// ExportABI is a function of no parameters and results whose presence
	// says the guest speaks ABI version 1.
	ExportABI = "sluice_abi_v1"
	// ExportAlloc is alloc(size u32) ptr u32: a buffer of size bytes in
	// guest memory, valid until the next call of alloc, init or handle.
	ExportAlloc = "sluice_alloc"
	// ExportInit is init(ptr, len u32) u64: called once per instance with
	// the handler's "config" as JSON in the buffer alloc returned; 0 means
	// ready, anything else is ptr<<32|len of an error message.
	ExportInit = "sluice_init"
	// ExportHandle is handle(ptr, len u32) u64: called with an input
	// batch in the buffer alloc returned; returns ptr<<32|len of the output
	// batch, valid until the next call.
	ExportHandle = "sluice_handle"
	// ExportMemory is the guest's exported linear memory.
	ExportMemory = "memory"
)

// NoInput is the from of an output event derived from no input event.
const NoInput = 0xFFFFFFFF

// Status values of an output batch.
const (
	StatusOK    = 0
	StatusError = 1
)

var le = binary.LittleEndian

// Writer builds an input or output batch. The zero value is ready to use
// after Reset.
type Writer struct {
	b     []byte
	n     uint32
	count int // offset of the count; -1 after Fail
}

// Reset empties w, keeping its buffer, and starts an input batch, or an
// output batch with status ok.
func (w *Writer) Reset(output bool) {
	w.b, w.n = w.b[:0], 0
	if output {
		w.b = le.AppendUint32(w.b, StatusOK)
	}
	w.count = len(w.b)
	w.b = le.AppendUint32(w.b, 0) // set by Bytes
}

// AddInput appends e to an input batch.
func (w *Writer) AddInput(e *event.Event) {
	w.b = appendRecord(w.b, e)
	w.n++
}

// AddOutput appends e to an output batch, derived from input event from
// (or NoInput), for route ("" for the handler's own).
func (w *Writer) AddOutput(from uint32, route string, e *event.Event) {
	w.b = le.AppendUint32(w.b, from)
	w.b = le.AppendUint32(w.b, uint32(len(route)))
	w.b = append(w.b, route...)
	w.b = appendRecord(w.b, e)
	w.n++
}

// Fail makes w an output batch that reports msg as the batch's error.
func (w *Writer) Fail(msg string) {
	w.b = le.AppendUint32(w.b[:0], StatusError)
	w.b = append(w.b, msg...)
	w.n, w.count = 0, -1
}

// Len returns the number of events added since Reset.
func (w *Writer) Len() int { return int(w.n) }

// Bytes returns the batch, valid until the next use of w.
func (w *Writer) Bytes() []byte {
	if w.count >= 0 && len(w.b) >= w.count+4 {
		le.PutUint32(w.b[w.count:], w.n)
	}
	return w.b
}

func appendRecord(dst []byte, e *event.Event) []byte {
	at := len(dst)
	dst = le.AppendUint32(dst, 0)
	dst = e.AppendRecord(dst)
	le.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return dst
}

// ReadInput calls each for every event of input batch b, in order. The
// events' strings and Raw share b's memory. It stops at the first error of
// each, or of the batch's framing.
func ReadInput(b []byte, each func(i int, e *event.Event) error) error {
	r := reader{b: b}
	n := r.u32("count")
	var e event.Event
	for i := 0; r.err == nil && i < int(n); i++ {
		rec := r.bytes("event")
		if r.err != nil {
			return fmt.Errorf("event %d: %w", i, r.err)
		}
		if err := event.DecodeRecord(rec, &e); err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
		if err := each(i, &e); err != nil {
			return err
		}
	}
	return r.end()
}

// Output is one event of an output batch.
type Output struct {
	// From is the index of the input event it derives from, or NoInput.
	From uint32
	// Route names another route, or is "" for the handler's own.
	Route string
	Event event.Event
}

// ErrGuest is wrapped by the error of ReadOutput for a batch whose status
// is error: the message is the guest's.
var ErrGuest = errors.New("guest error")

// ReadOutput calls each for every event of output batch b, in order. The
// events' strings and Raw share b's memory. A batch with status error
// gives an error wrapping ErrGuest; bad framing, an event record that does
// not decode or a from at or past inputs gives an error saying so.
func ReadOutput(b []byte, inputs int, each func(o *Output) error) error {
	r := reader{b: b}
	switch status := r.u32("status"); {
	case r.err != nil:
		return r.err
	case status == StatusError:
		return fmt.Errorf("%w: %s", ErrGuest, b[4:])
	case status != StatusOK:
		return fmt.Errorf("unknown status %d", status)
	}
	n := r.u32("count")
	var o Output
	for i := 0; r.err == nil && i < int(n); i++ {
		o.From = r.u32("from")
		o.Route = string(r.bytes("route"))
		rec := r.bytes("event")
		if r.err != nil {
			return fmt.Errorf("output %d: %w", i, r.err)
		}
		if o.From != NoInput && o.From >= uint32(inputs) {
			return fmt.Errorf("output %d: from %d, but the batch has %d events", i, o.From, inputs)
		}
		if err := event.DecodeRecord(rec, &o.Event); err != nil {
			return fmt.Errorf("output %d: %w", i, err)
		}
		if err := each(&o); err != nil {
			return err
		}
	}
	return r.end()
}

type reader struct {
	b   []byte
	i   int
	err error
}

func (r *reader) u32(what string) uint32 {
	if r.err != nil {
		return 0
	}
	if len(r.b)-r.i < 4 {
		r.err = fmt.Errorf("%s: truncated at byte %d", what, r.i)
		return 0
	}
	v := le.Uint32(r.b[r.i:])
	r.i += 4
	return v
}

func (r *reader) bytes(what string) []byte {
	n := r.u32(what + " length")
	if r.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(r.b)-r.i) {
		r.err = fmt.Errorf("%s: length %d past the end of the batch (%d bytes left)", what, n, len(r.b)-r.i)
		return nil
	}
	v := r.b[r.i : r.i+int(n) : r.i+int(n)]
	r.i += int(n)
	return v
}

func (r *reader) end() error {
	if r.err == nil && r.i != len(r.b) {
		r.err = fmt.Errorf("%d bytes after the last event", len(r.b)-r.i)
	}
	return r.err
}
