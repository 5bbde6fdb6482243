// Package abi encodes the batches that the wasm handler and its guests
// exchange: ABI version 3, described in docs/wasm.md (the host reads
// version 2 too). The host and the Go guest SDK both use it.
//
// An input batch, written by the host into guest memory, is
//
//	count  u32
//	count × view [ViewSize]byte
//	the bytes of the events' strings and field tables
//
// where a view has a fixed layout (the View* offsets below): each string
// of the event as (offset u32, length u32) into the batch, the field table's
// offset and count, and the scalars. A guest reads any part of any event
// with a load or two, without parsing and without copying.
//
// An output batch, returned by the guest, is
//
//	status u32: 0 ok, then the rest below; 1 error, then a UTF-8 message to the end
//	count  u32
//	count × (from u32, routeLength u32, route [routeLength]byte, kind u32, body)
//
// where the body of kind [Keep] is empty (input event from, unchanged),
// that of [Patch] is n u32 and n × (slot u32, length u32, bytes
// [length]byte) (input event from with those strings replaced, or, for a
// slot with [EditSlot] set, edited: version 3), and that
// of [Record] is length u32 and an event record [length]byte (a whole
// event in the record encoding of package event). u32 is little-endian;
// from is the index of an input event (its key, topic and attributes
// carry over to the output) or, for a record only, [NoInput]; route is
// empty for the handler's own route or names another route.
package abi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/sluicehq/sluice/event"
)

// Version is the ABI version this package speaks. The host reads
// version 2 too: version 3 only adds edits ([EditSlot]).
const Version = 3

// The exports a guest module has. Every one is required.
const (
	// ExportABI is a function of no parameters and results whose presence
	// says the guest speaks ABI version 3; ExportABIv2, version 2.
	ExportABI   = "sluice_abi_v3"
	ExportABIv2 = "sluice_abi_v2"
	// ExportAlloc is alloc(size u32) ptr u32: a buffer of at least size
	// bytes in guest memory, which stays valid, and the guest leaves
	// alone, until the next call of alloc. The host writes its input
	// there, and calls alloc again only for a larger buffer.
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

// Kind is the kind of an output event.
type Kind uint32

// Kinds of output events.
const (
	// Keep hands on input event from as it is: the host keeps its own
	// copy, nothing is encoded or decoded.
	Keep Kind = 0
	// Patch hands on input event from with some of its strings replaced.
	Patch Kind = 1
	// Record hands on a whole event in the record encoding.
	Record Kind = 2
)

// The string slots of an event, in the order of its view: a Patch names
// the strings it replaces by slot. Field j of the event's Fields is slot
// FieldSlot+2j (its name) and FieldSlot+2j+1 (its value).
const (
	SlotSource = iota
	SlotSourceType
	SlotHost
	SlotContentType
	SlotRaw
	SlotFilePath
	SlotSyslogHostname
	SlotSyslogAppName
	SlotSyslogProcID
	SlotSyslogMsgID
	SlotSyslogStructuredData
	SlotSyslogMessage
	SlotHTTPMethod
	SlotHTTPPath
	SlotHTTPQuery
	SlotHTTPProtocol
	SlotHTTPReferrer
	SlotHTTPUserAgent
	SlotHTTPRemoteAddr
	SlotHTTPRemoteUser
	Slots // how many; the HTTP slots are SlotHTTPMethod and after

	FieldSlot = 1 << 16

	// EditSlot, ORed into a Patch item's slot, makes the item an edit of
	// that slot's string instead of its new value (ABI version 3): its
	// bytes are offset u32, cut u32 and the replacement, which takes the
	// place of the cut bytes from offset on in the string as it is (after
	// the patch's items before it). The guest sends back what changes and
	// the host splices it in, where a whole string has the guest copy the
	// bytes around the change.
	EditSlot = 1 << 31
)

// The layout of a view: byte offsets in it. Slot s is at 8s: its offset
// in the batch (u32) and its length (u32). A zero time has nanoseconds
// 0xFFFFFFFF. Syslog is Present (0 or 1) | Facility<<8 | Severity<<16 |
// Version<<24. HTTP is 1 if the event has HTTP, else 0 and the HTTP slots
// and scalars are zero. A field table is FieldCount × (name offset, name
// length, value offset, value length), each u32.
const (
	ViewFieldTable  = 160 // u32 offset of the field table in the batch
	ViewFieldCount  = 164 // u32
	ViewTime        = 168 // i64 Unix seconds
	ViewReceivedAt  = 176 // i64 Unix seconds
	ViewFileOffset  = 184 // i64
	ViewHTTPStatus  = 192 // i64
	ViewHTTPBytes   = 200 // i64
	ViewHTTPReqTime = 208 // f64 bits
	ViewTimeNanos   = 216 // u32
	ViewRecvNanos   = 220 // u32
	ViewFlags       = 224 // u32
	ViewSyslog      = 228 // u32
	ViewHTTP        = 232 // u32
	ViewSize        = 240 // 236 is reserved, zero
)

const zeroTime = 0xFFFFFFFF

var le = binary.LittleEndian

// strs lists e's strings in slot order, the HTTP ones only if e.HTTP is
// set; Raw is at SlotRaw, as a string sharing its bytes.
func strs(e *event.Event, s *[Slots]string) int {
	*s = [Slots]string{e.Source, e.SourceType, e.Host, e.ContentType, bstr(e.Raw), e.File.Path,
		e.Syslog.Hostname, e.Syslog.AppName, e.Syslog.ProcID, e.Syslog.MsgID, e.Syslog.StructuredData, e.Syslog.Message}
	if h := e.HTTP; h != nil {
		s[SlotHTTPMethod], s[SlotHTTPPath], s[SlotHTTPQuery], s[SlotHTTPProtocol] = h.Method, h.Path, h.Query, h.Protocol
		s[SlotHTTPReferrer], s[SlotHTTPUserAgent], s[SlotHTTPRemoteAddr], s[SlotHTTPRemoteUser] = h.Referrer, h.UserAgent, h.RemoteAddr, h.RemoteUser
		return Slots
	}
	return SlotHTTPMethod
}

// InputSize returns the size of the input batch of events ev(0) to
// ev(n-1).
func InputSize(n int, ev func(i int) *event.Event) int {
	size := 4 + n*ViewSize
	var s, last [Slots]string // last: the string last copied for each slot
	for i := range n {
		e := ev(i)
		for j, v := range s[:strs(e, &s)] {
			if j == SlotRaw {
				size += len(v)
			} else if len(v) > 0 && !within(v, e.Raw) && !same(v, last[j]) {
				size += len(v)
				last[j] = v
			}
		}
		size += 16 * len(e.Fields)
		for _, f := range e.Fields {
			size += len(f.Name) + len(f.Value)
		}
	}
	return size
}

// PutInput writes the input batch of events ev(0) to ev(n-1) at the start
// of b, in one pass, and returns its size (InputSize's). If b is shorter
// than that, it returns false, having written part of it: size b with
// InputSize and call again. A buffer reused from batch to batch is
// usually large enough, so the events are walked once, not twice.
func PutInput(b []byte, n int, ev func(i int) *event.Event) (size int, ok bool) {
	if len(b) < 4 || (len(b)-4)/ViewSize < n {
		return 0, false
	}
	le.PutUint32(b, uint32(n))
	w := inputWriter{b: b, at: 4 + n*ViewSize}
	base := unsafe.Pointer(unsafe.SliceData(b))
	for i := range n {
		w.event(unsafe.Add(base, 4+i*ViewSize), ev(i))
	}
	return w.at, !w.short
}

// inputWriter writes the events of an input batch into b: their views,
// and their strings from at on.
type inputWriter struct {
	b  []byte
	at int // where the next string goes
	// raw and rawLen are the address and length of the raw line of the
	// event being written, and rawAt where it went: a string within it
	// (such as a syslog message) is not copied.
	raw, rawLen uintptr
	rawAt       int
	short       bool // b is too short for the strings
	// last is the string last copied for each slot and its word: the
	// same string (the same memory) in the same slot of a later event
	// is not copied again, as a source's name or a host often is.
	last [Slots]struct {
		p    uintptr
		n    int
		word uint64
	}
}

// event writes e's view at v, ViewSize bytes of b, and its strings after
// those written before. Every byte of the view is written, each word
// with one store.
func (w *inputWriter) event(v unsafe.Pointer, e *event.Event) {
	w.raw, w.rawLen, w.rawAt = uintptr(unsafe.Pointer(unsafe.SliceData(e.Raw))), uintptr(len(e.Raw)), w.at
	put64(slot(v, SlotRaw), w.copy(bstr(e.Raw)))
	w.strings(v, unsafe.Pointer(e), eventStrings[:])
	if h := e.HTTP; h != nil {
		w.strings(v, unsafe.Pointer(h), httpStrings[:])
		put64(unsafe.Add(v, ViewHTTPStatus), uint64(h.Status))
		put64(unsafe.Add(v, ViewHTTPBytes), uint64(h.Bytes))
		put64(unsafe.Add(v, ViewHTTPReqTime), math.Float64bits(h.RequestTime))
		put64(unsafe.Add(v, ViewHTTP), 1) // and the reserved word
	} else {
		*(*[Slots - SlotHTTPMethod]uint64)(slot(v, SlotHTTPMethod)) = [Slots - SlotHTTPMethod]uint64{}
		*(*[3]uint64)(unsafe.Add(v, ViewHTTPStatus)) = [3]uint64{}
		put64(unsafe.Add(v, ViewHTTP), 0)
	}
	put64(unsafe.Add(v, ViewFieldTable), 0) // and the count
	if len(e.Fields) > 0 {
		w.fields(v, e.Fields)
	}
	putTime(v, ViewTime, ViewTimeNanos, e.Time)
	putTime(v, ViewReceivedAt, ViewRecvNanos, e.ReceivedAt)
	put64(unsafe.Add(v, ViewFileOffset), uint64(e.File.Offset))
	put64(unsafe.Add(v, ViewFlags), uint64(uint32(e.Flags))|uint64(syslogWord(&e.Syslog))<<32) // and Syslog
}

// fields writes the field table and its strings.
func (w *inputWriter) fields(v unsafe.Pointer, fs []event.Field) {
	if 16*len(fs) > len(w.b)-w.at {
		w.short = true
		return
	}
	table := w.at
	w.at += 16 * len(fs)
	put32(unsafe.Add(v, ViewFieldTable), uint32(table))
	put32(unsafe.Add(v, ViewFieldCount), uint32(len(fs)))
	t := unsafe.Add(unsafe.Pointer(unsafe.SliceData(w.b)), table)
	for j := range fs {
		put64(unsafe.Add(t, 16*j), w.word(fs[j].Name))
		put64(unsafe.Add(t, 16*j+8), w.word(fs[j].Value))
	}
}

// word returns the slot word (offset | length<<32) of s: where the raw
// line has it, if it lies within, else where it is copied to; 0 if s is
// empty.
func (w *inputWriter) word(s string) uint64 {
	if len(s) == 0 {
		return 0
	}
	if word, ok := w.inRaw(s); ok {
		return word
	}
	return w.copy(s)
}

// A stringAt is a slot of a view and the offset of its string in a
// struct: strings reads them in a loop, with no call per string.
type stringAt struct{ slot, off uintptr }

var (
	// eventStrings are the slots of an event.Event's strings but Raw.
	eventStrings = [...]stringAt{
		{SlotSource, unsafe.Offsetof(event.Event{}.Source)},
		{SlotSourceType, unsafe.Offsetof(event.Event{}.SourceType)},
		{SlotHost, unsafe.Offsetof(event.Event{}.Host)},
		{SlotContentType, unsafe.Offsetof(event.Event{}.ContentType)},
		{SlotFilePath, unsafe.Offsetof(event.Event{}.File) + unsafe.Offsetof(event.File{}.Path)},
		{SlotSyslogHostname, unsafe.Offsetof(event.Event{}.Syslog) + unsafe.Offsetof(event.Syslog{}.Hostname)},
		{SlotSyslogAppName, unsafe.Offsetof(event.Event{}.Syslog) + unsafe.Offsetof(event.Syslog{}.AppName)},
		{SlotSyslogProcID, unsafe.Offsetof(event.Event{}.Syslog) + unsafe.Offsetof(event.Syslog{}.ProcID)},
		{SlotSyslogMsgID, unsafe.Offsetof(event.Event{}.Syslog) + unsafe.Offsetof(event.Syslog{}.MsgID)},
		{SlotSyslogStructuredData, unsafe.Offsetof(event.Event{}.Syslog) + unsafe.Offsetof(event.Syslog{}.StructuredData)},
		{SlotSyslogMessage, unsafe.Offsetof(event.Event{}.Syslog) + unsafe.Offsetof(event.Syslog{}.Message)},
	}
	// httpStrings are those of an event.HTTP.
	httpStrings = [...]stringAt{
		{SlotHTTPMethod, unsafe.Offsetof(event.HTTP{}.Method)},
		{SlotHTTPPath, unsafe.Offsetof(event.HTTP{}.Path)},
		{SlotHTTPQuery, unsafe.Offsetof(event.HTTP{}.Query)},
		{SlotHTTPProtocol, unsafe.Offsetof(event.HTTP{}.Protocol)},
		{SlotHTTPReferrer, unsafe.Offsetof(event.HTTP{}.Referrer)},
		{SlotHTTPUserAgent, unsafe.Offsetof(event.HTTP{}.UserAgent)},
		{SlotHTTPRemoteAddr, unsafe.Offsetof(event.HTTP{}.RemoteAddr)},
		{SlotHTTPRemoteUser, unsafe.Offsetof(event.HTTP{}.RemoteUser)},
	}
)

// strings writes into view v the words of the strings at p of fs, as
// word does, but a string the same memory as the one last copied for its
// slot is not copied again.
func (w *inputWriter) strings(v, p unsafe.Pointer, fs []stringAt) {
	for _, f := range fs {
		s, word := *(*string)(unsafe.Add(p, f.off)), uint64(0)
		if len(s) > 0 {
			var ok bool
			if word, ok = w.inRaw(s); !ok {
				at, c := uintptr(unsafe.Pointer(unsafe.StringData(s))), &w.last[f.slot]
				if c.p != at || c.n != len(s) {
					c.p, c.n, c.word = at, len(s), w.copy(s)
				}
				word = c.word
			}
		}
		put64(unsafe.Add(v, 8*f.slot), word)
	}
}

// inRaw returns the word of s, not empty, if it lies within the raw line.
func (w *inputWriter) inRaw(s string) (uint64, bool) {
	off := uintptr(unsafe.Pointer(unsafe.StringData(s))) - w.raw
	return uint64(w.rawAt+int(off)) | uint64(len(s))<<32, off <= w.rawLen && uintptr(len(s)) <= w.rawLen-off
}

// copy copies s to the end of the batch and returns its slot word; 0 if
// b is too short.
func (w *inputWriter) copy(s string) uint64 {
	if len(s) > len(w.b)-w.at {
		w.short = true
		return 0
	}
	at := w.at
	w.at += copy(w.b[at:], s)
	return uint64(at) | uint64(len(s))<<32
}

// within reports whether s is a part of raw's memory (and not empty).
func within(s string, raw []byte) bool {
	if len(s) == 0 || len(raw) == 0 {
		return false
	}
	p, r := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.SliceData(raw)))
	return p >= r && p+uintptr(len(s)) <= r+uintptr(len(raw))
}

// same reports whether s and t are the same memory.
func same(s, t string) bool {
	return len(s) == len(t) && unsafe.StringData(s) == unsafe.StringData(t)
}

// bstr returns b as a string sharing its memory, which must not change.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// putTime writes t's Unix seconds at v+sec and its nanoseconds at
// v+nsec, or 0 and zeroTime for a zero time.
func putTime(v unsafe.Pointer, sec, nsec uintptr, t time.Time) {
	if t.IsZero() {
		put64(unsafe.Add(v, sec), 0)
		put32(unsafe.Add(v, nsec), zeroTime)
		return
	}
	put64(unsafe.Add(v, sec), uint64(t.Unix()))
	put32(unsafe.Add(v, nsec), uint32(t.Nanosecond()))
}

func syslogWord(s *event.Syslog) uint32 {
	w := uint32(s.Facility)<<8 | uint32(s.Severity)<<16 | uint32(s.Version)<<24
	if s.Present {
		w |= 1
	}
	return w
}

// Output is one event of an output batch.
type Output struct {
	// From is the index of the input event it derives from, or NoInput.
	From uint32
	// Route names another route, or is "" for the handler's own.
	Route string
	// Kind says how the event came: as it was, patched, or whole.
	Kind  Kind
	Event event.Event
}

// ErrGuest is wrapped by the error of ReadOutput for a batch whose status
// is error: the message is the guest's.
var ErrGuest = errors.New("guest error")

// ReadOutput calls each for every event of output batch b of ABI
// version (2 or 3), in order, where input(i) is input event i of n. A
// kept event is a shallow copy of its input; a patched one too, with the
// replaced strings sharing b's memory (an edited string has memory of its
// own), and its HTTP and Fields copied before they change, so that the
// input's are never written. A batch with status error gives an error
// wrapping ErrGuest; bad framing, a record that does not decode, a from at
// or past n (or NoInput but for a record), or a patch of a string the
// event lacks, or an edit past its string's end (or in version 2) gives
// an error saying so.
func ReadOutput(b []byte, version, n int, input func(i int) *event.Event, each func(o *Output) error) error {
	var r Outputs
	count, err := r.Reset(b, version, n, input)
	if err != nil {
		return err
	}
	var o Output
	for range count {
		if o.From, o.Route, o.Kind, err = r.Next(&o.Event); err != nil {
			return err
		}
		if err := each(&o); err != nil {
			return err
		}
	}
	return r.End()
}

// Outputs reads an output batch event by event, as ReadOutput does, into
// events the caller places: Reset, then Next as many times as Reset
// said, then End.
type Outputs struct {
	r     reader
	n     int
	input func(i int) *event.Event
	i     int
}

// Reset starts reading output batch b of ABI version (2 or 3) of input
// events input(0) to input(n-1), and returns the number of events it says
// it has. That number is the guest's: every event takes at least
// MinOutput bytes of b, which bounds what may be set aside for them.
func (r *Outputs) Reset(b []byte, version, n int, input func(i int) *event.Event) (int, error) {
	*r = Outputs{r: reader{b: b, edits: version >= 3}, n: n, input: input}
	switch status := r.r.u32("status"); {
	case r.r.err != nil:
		return 0, r.r.err
	case status == StatusError:
		return 0, fmt.Errorf("%w: %s", ErrGuest, b[4:])
	case status != StatusOK:
		return 0, fmt.Errorf("unknown status %d", status)
	}
	count := r.r.u32("count")
	return int(count), r.r.err
}

// MinOutput is the fewest bytes an event of an output batch takes: from,
// route length and kind.
const MinOutput = 12

// Next reads the next event into *e, and returns where it came from, its
// route and its kind. *e is written even if Next fails.
func (r *Outputs) Next(e *event.Event) (from uint32, route string, kind Kind, err error) {
	i := r.i
	r.i++
	if b := r.r.b[r.r.i:]; r.r.err == nil && len(b) >= 12 && le.Uint32(b[4:]) == 0 {
		// The common case in one read: the handler's own route.
		from, kind = le.Uint32(b), Kind(le.Uint32(b[8:]))
		r.r.i += 12
	} else {
		from = r.r.u32("from")
		if rt := r.r.bytes("route"); len(rt) > 0 {
			route = string(rt)
		}
		kind = Kind(r.r.u32("kind"))
	}
	if r.r.err != nil {
		return 0, "", 0, fmt.Errorf("output %d: %w", i, r.r.err)
	}
	if from >= uint32(r.n) && (from != NoInput || kind != Record) {
		return 0, "", 0, fmt.Errorf("output %d: from %d, but the batch has %d events", i, from, r.n)
	}
	switch kind {
	case Keep:
		*e = *r.input(int(from))
	case Patch:
		*e = *r.input(int(from))
		err = r.r.patch(e)
	case Record:
		rec := r.r.bytes("record")
		if r.r.err == nil {
			*e = event.Event{}
			err = event.DecodeRecord(rec, e)
		}
	default:
		err = fmt.Errorf("unknown kind %d", kind)
	}
	if err == nil {
		err = r.r.err
	}
	if err != nil {
		return 0, "", 0, fmt.Errorf("output %d: %w", i, err)
	}
	return from, route, kind, nil
}

// End reports whether the batch ends after the events read.
func (r *Outputs) End() error { return r.r.end() }

// patch reads the items of a Patch into e.
func (r *reader) patch(e *event.Event) error {
	items := r.u32("patch count")
	var copied copies
	for range items {
		var slot uint32
		var p []byte
		if b := r.b[r.i:]; len(b) >= 8 && uint64(le.Uint32(b[4:])) <= uint64(len(b)-8) {
			// The common case in one read: slot, length and string.
			n := 8 + int(le.Uint32(b[4:]))
			slot, p = le.Uint32(b), b[8:n:n]
			r.i += n
		} else if slot, p = r.u32("slot"), r.bytes("string"); r.err != nil {
			return r.err
		}
		edit := slot&EditSlot != 0 && r.edits
		if edit {
			slot &^= EditSlot
		}
		dst, err := target(e, slot, &copied)
		if err != nil {
			return err
		}
		if edit {
			cur := bstr(e.Raw)
			if dst != nil {
				cur = *dst
			}
			if p, err = r.edit(cur, p); err != nil {
				return fmt.Errorf("slot %d: %w", slot, err)
			}
		}
		switch {
		case dst != nil:
			*dst = bstr(p)
		case len(p) == 0:
			e.Raw = nil
		default:
			e.Raw = p
		}
	}
	return nil
}

// copies says which of an event's HTTP and Fields a patch copied: it
// changes its own copies, never the input's.
type copies struct{ http, fields bool }

// target returns the string of slot in e that a patch replaces, or nil
// for Raw, after copying e's HTTP or Fields if the slot lies in them.
func target(e *event.Event, slot uint32, c *copies) (*string, error) {
	switch {
	case slot >= FieldSlot:
		j := (slot - FieldSlot) / 2
		if uint64(j) >= uint64(len(e.Fields)) {
			return nil, fmt.Errorf("slot %d: patches field %d of an event with %d", slot, j, len(e.Fields))
		}
		if !c.fields {
			e.Fields, c.fields = append([]event.Field(nil), e.Fields...), true
		}
		if slot%2 == 0 {
			return &e.Fields[j].Name, nil
		}
		return &e.Fields[j].Value, nil
	case slot >= Slots:
		return nil, fmt.Errorf("unknown slot %d", slot)
	case slot == SlotRaw:
		return nil, nil
	case slot >= SlotHTTPMethod:
		if e.HTTP == nil {
			return nil, fmt.Errorf("slot %d: patches HTTP of an event without HTTP", slot)
		}
		if !c.http {
			h := *e.HTTP
			e.HTTP, c.http = &h, true
		}
		return httpSlot(e.HTTP, slot), nil
	}
	return eventSlot(e, slot), nil
}

// edit returns s with the edit p (offset u32, cut u32, replacement)
// made, in r.built: one array for the batch's edited strings.
func (r *reader) edit(s string, p []byte) ([]byte, error) {
	if len(p) < 8 {
		return nil, fmt.Errorf("edit of %d bytes", len(p))
	}
	off, cut := uint64(le.Uint32(p)), uint64(le.Uint32(p[4:]))
	if off+cut > uint64(len(s)) {
		return nil, fmt.Errorf("edit of bytes %d to %d of a string of %d", off, off+cut, len(s))
	}
	if r.built == nil {
		// An edit takes a few bytes of b and makes a string of many:
		// 4 for each of b's holds a redaction's strings (the benchmark's
		// take 2.2); more grow it, with an allocation.
		r.built = make([]byte, 0, 4*len(r.b))
	}
	at := len(r.built)
	r.built = append(r.built, s[:off]...)
	r.built = append(r.built, p[8:]...)
	r.built = append(r.built, s[off+cut:]...)
	return r.built[at:len(r.built):len(r.built)], nil
}

func eventSlot(e *event.Event, slot uint32) *string {
	switch slot {
	case SlotSource:
		return &e.Source
	case SlotSourceType:
		return &e.SourceType
	case SlotHost:
		return &e.Host
	case SlotContentType:
		return &e.ContentType
	case SlotFilePath:
		return &e.File.Path
	case SlotSyslogHostname:
		return &e.Syslog.Hostname
	case SlotSyslogAppName:
		return &e.Syslog.AppName
	case SlotSyslogProcID:
		return &e.Syslog.ProcID
	case SlotSyslogMsgID:
		return &e.Syslog.MsgID
	case SlotSyslogStructuredData:
		return &e.Syslog.StructuredData
	}
	return &e.Syslog.Message
}

func httpSlot(h *event.HTTP, slot uint32) *string {
	switch slot {
	case SlotHTTPMethod:
		return &h.Method
	case SlotHTTPPath:
		return &h.Path
	case SlotHTTPQuery:
		return &h.Query
	case SlotHTTPProtocol:
		return &h.Protocol
	case SlotHTTPReferrer:
		return &h.Referrer
	case SlotHTTPUserAgent:
		return &h.UserAgent
	case SlotHTTPRemoteAddr:
		return &h.RemoteAddr
	}
	return &h.RemoteUser
}

type reader struct {
	b     []byte
	i     int
	err   error
	edits bool // version 3: EditSlot is known
	// built holds the strings that edits made: one array for many.
	built []byte
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
	if r.err == nil && len(r.b)-r.i < 4 {
		r.err = fmt.Errorf("%s length: truncated at byte %d", what, r.i)
	}
	n := r.u32(what)
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
