package abi

import (
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/sluicehq/sluice/event"
)

// Input reads an input batch in a guest. The events it gives share the
// batch's memory and its own storage, which it reuses: an event is valid
// until the next call of Event or Reset.
//
// Go compiles to WebAssembly with every taken branch and every call a
// trip through its function's resumption table, so the code below reads
// and compares an event's strings in straight lines, without loops.
type Input struct {
	b []byte
	n int
	// last is the index of the event Event gave last, or -1; Writer.Emit
	// compares what the guest emits with that event's view.
	last int
	// http and fields are the guest's copies of the last event's.
	http   event.HTTP
	fields []event.Field
	times  [2]lastTime // Time, ReceivedAt
	// checked says Check accepted the batch.
	checked bool
}

// Reset starts reading input batch b.
func (in *Input) Reset(b []byte) error {
	in.b, in.n, in.last, in.checked = b, 0, -1, false
	if len(b) < 4 {
		return fmt.Errorf("input batch of %d bytes", len(b))
	}
	n := le.Uint32(b)
	if uint64(n)*ViewSize > uint64(len(b)-4) {
		return fmt.Errorf("input batch of %d events in %d bytes", n, len(b))
	}
	in.n = int(n)
	return nil
}

// Len returns the number of events in the batch.
func (in *Input) Len() int { return in.n }

// view returns the address of event i's view, i < in.n.
func (in *Input) view(i int) unsafe.Pointer { return unsafe.Pointer(&in.b[4+i*ViewSize]) }

// base is the address of the batch.
func (in *Input) base() unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(in.b)) }

// str returns the string whose offset and length are at p, in the batch
// at base; Event has checked that it lies in the batch. An empty string
// points at the batch's start: its offset may be the batch's end.
func str(base, p unsafe.Pointer) string {
	w := u64(p) // offset and length in one load
	n := uint32(w >> 32)
	off := uint32(w) & -nz(uint64(n))
	return unsafe.String((*byte)(unsafe.Add(base, off)), n)
}

// end returns where the string whose offset and length are at p ends.
// It loads both at once: in a Go guest each load is checked.
func end(p unsafe.Pointer) uint64 { w := u64(p); return uint64(uint32(w)) + w>>32 }

// slot returns the address of slot s of the view at v.
func slot(v unsafe.Pointer, s int) unsafe.Pointer { return unsafe.Add(v, 8*s) }

// Event sets *e to event i, 0 ≤ i < Len. Its strings and Raw are views
// into the batch: Raw must not be written into (assign a new slice).
func (in *Input) Event(i int, e *event.Event) error {
	in.last = -1
	if uint(i) >= uint(in.n) {
		*e = event.Event{}
		return fmt.Errorf("event %d of a batch of %d", i, in.n)
	}
	v, b := in.view(i), in.base()
	if max(end(slot(v, 0)), end(slot(v, 1)), end(slot(v, 2)), end(slot(v, 3)), end(slot(v, 4)), end(slot(v, 5)), end(slot(v, 6)),
		end(slot(v, 7)), end(slot(v, 8)), end(slot(v, 9)), end(slot(v, 10)), end(slot(v, 11)), end(slot(v, 12)), end(slot(v, 13)),
		end(slot(v, 14)), end(slot(v, 15)), end(slot(v, 16)), end(slot(v, 17)), end(slot(v, 18)), end(slot(v, 19))) > uint64(len(in.b)) {
		*e = event.Event{}
		return fmt.Errorf("event %d: a string past the end of the batch", i)
	}
	e.Time = in.times[0].get(u64(unsafe.Add(v, ViewTime)), u32(unsafe.Add(v, ViewTimeNanos)))
	e.ReceivedAt = in.times[1].get(u64(unsafe.Add(v, ViewReceivedAt)), u32(unsafe.Add(v, ViewRecvNanos)))
	e.Source = str(b, slot(v, SlotSource))
	e.SourceType = str(b, slot(v, SlotSourceType))
	e.Host = str(b, slot(v, SlotHost))
	e.ContentType = str(b, slot(v, SlotContentType))
	e.Raw = nil
	if raw := str(b, slot(v, SlotRaw)); raw != "" {
		e.Raw = unsafe.Slice(unsafe.StringData(raw), len(raw))
	}
	e.Flags = event.Flags(u32(unsafe.Add(v, ViewFlags)))
	e.File.Path = str(b, slot(v, SlotFilePath))
	e.File.Offset = int64(u64(unsafe.Add(v, ViewFileOffset)))
	w := u32(unsafe.Add(v, ViewSyslog))
	e.Syslog.Present, e.Syslog.Facility, e.Syslog.Severity, e.Syslog.Version = w&1 != 0, byte(w>>8), byte(w>>16), byte(w>>24)
	e.Syslog.Hostname = str(b, slot(v, SlotSyslogHostname))
	e.Syslog.AppName = str(b, slot(v, SlotSyslogAppName))
	e.Syslog.ProcID = str(b, slot(v, SlotSyslogProcID))
	e.Syslog.MsgID = str(b, slot(v, SlotSyslogMsgID))
	e.Syslog.StructuredData = str(b, slot(v, SlotSyslogStructuredData))
	e.Syslog.Message = str(b, slot(v, SlotSyslogMessage))
	e.HTTP = nil
	if u32(unsafe.Add(v, ViewHTTP)) != 0 {
		in.http = event.HTTP{
			Method: str(b, slot(v, SlotHTTPMethod)), Path: str(b, slot(v, SlotHTTPPath)), Query: str(b, slot(v, SlotHTTPQuery)),
			Protocol: str(b, slot(v, SlotHTTPProtocol)), Status: int(int64(u64(unsafe.Add(v, ViewHTTPStatus)))),
			Bytes: int64(u64(unsafe.Add(v, ViewHTTPBytes))), Referrer: str(b, slot(v, SlotHTTPReferrer)),
			UserAgent: str(b, slot(v, SlotHTTPUserAgent)), RequestTime: math.Float64frombits(u64(unsafe.Add(v, ViewHTTPReqTime))),
			RemoteAddr: str(b, slot(v, SlotHTTPRemoteAddr)), RemoteUser: str(b, slot(v, SlotHTTPRemoteUser)),
		}
		e.HTTP = &in.http
	}
	e.Fields = nil
	if n := u32(unsafe.Add(v, ViewFieldCount)); n > 0 {
		if err := in.readFields(i, v, n); err != nil {
			*e = event.Event{}
			return err
		}
		e.Fields = in.fields[:n:n]
	}
	in.last = i
	return nil
}

// readFields reads the n fields of the view at v of event i into
// in.fields.
func (in *Input) readFields(i int, v unsafe.Pointer, n uint32) error {
	at := uint64(u32(unsafe.Add(v, ViewFieldTable)))
	if at+16*uint64(n) > uint64(len(in.b)) {
		return fmt.Errorf("event %d: field table past the end of the batch", i)
	}
	in.fields = in.fields[:0]
	b := in.base()
	for j := range uint64(n) {
		p := unsafe.Add(b, at+16*j)
		if max(end(p), end(unsafe.Add(p, 8))) > uint64(len(in.b)) {
			return fmt.Errorf("event %d: a field's string past the end of the batch", i)
		}
		in.fields = append(in.fields, event.Field{Name: str(b, p), Value: str(b, unsafe.Add(p, 8))})
	}
	return nil
}

// lastTime is the time of the last event: the events of a batch often
// share one, and making a time.Time is dear in WebAssembly.
type lastTime struct {
	sec uint64
	ns  uint32
	t   time.Time
}

func (l *lastTime) get(s uint64, ns uint32) time.Time {
	if s != l.sec || ns != l.ns {
		l.set(s, ns)
	}
	return l.t
}

func (l *lastTime) set(s uint64, ns uint32) {
	l.sec, l.ns, l.t = s, ns, time.Time{}
	if ns != zeroTime {
		l.t = time.Unix(int64(s), int64(ns)).UTC()
	}
}

// diff returns 0 if s is the string whose offset and length are at p in
// the batch at base (the same length and, if not empty, the same memory),
// else not 0. It has no branch: a taken branch is dear in Go's
// WebAssembly.
func diff(base uintptr, p unsafe.Pointer, s string) uintptr {
	n := u32(unsafe.Add(p, 4))
	at := uintptr(unsafe.Pointer(unsafe.StringData(s))) ^ (base + uintptr(u32(p)))
	return uintptr(uint32(len(s))^n) | at&-uintptr(nz(uint64(n)))
}

// nz returns 1 if x is not 0, else 0, without a branch.
func nz(x uint64) uint32 { return uint32((x | -x) >> 63) }

// bit returns 1<<s if d is not 0, else 0.
func bit(d uintptr, s uint) uint32 { return nz(uint64(d)) << s }

// changed returns the slots of e whose strings are not those of the view
// at v (the HTTP ones only if e has HTTP), and whether e differs from the
// view's event in anything a patch cannot carry: times, flags, offsets,
// syslog's numbers, HTTP's presence and numbers, the number of fields.
func (in *Input) changed(e *event.Event, v unsafe.Pointer) (slots uint32, reshaped bool) {
	w := u32(unsafe.Add(v, ViewSyslog))
	hasHTTP := u32(unsafe.Add(v, ViewHTTP)) != 0
	if e.Time != in.times[0].t || e.ReceivedAt != in.times[1].t || uint32(e.Flags) != u32(unsafe.Add(v, ViewFlags)) ||
		uint64(e.File.Offset) != u64(unsafe.Add(v, ViewFileOffset)) || e.Syslog.Present != (w&1 != 0) ||
		e.Syslog.Facility != byte(w>>8) || e.Syslog.Severity != byte(w>>16) || e.Syslog.Version != byte(w>>24) ||
		uint32(len(e.Fields)) != u32(unsafe.Add(v, ViewFieldCount)) || (e.HTTP != nil) != hasHTTP {
		return 0, true
	}
	b := uintptr(in.base())
	slots = bit(diff(b, slot(v, SlotSource), e.Source), SlotSource) |
		bit(diff(b, slot(v, SlotSourceType), e.SourceType), SlotSourceType) |
		bit(diff(b, slot(v, SlotHost), e.Host), SlotHost) |
		bit(diff(b, slot(v, SlotContentType), e.ContentType), SlotContentType) |
		bit(diff(b, slot(v, SlotRaw), bstr(e.Raw)), SlotRaw) |
		bit(diff(b, slot(v, SlotFilePath), e.File.Path), SlotFilePath) |
		bit(diff(b, slot(v, SlotSyslogHostname), e.Syslog.Hostname), SlotSyslogHostname) |
		bit(diff(b, slot(v, SlotSyslogAppName), e.Syslog.AppName), SlotSyslogAppName) |
		bit(diff(b, slot(v, SlotSyslogProcID), e.Syslog.ProcID), SlotSyslogProcID) |
		bit(diff(b, slot(v, SlotSyslogMsgID), e.Syslog.MsgID), SlotSyslogMsgID) |
		bit(diff(b, slot(v, SlotSyslogStructuredData), e.Syslog.StructuredData), SlotSyslogStructuredData) |
		bit(diff(b, slot(v, SlotSyslogMessage), e.Syslog.Message), SlotSyslogMessage)
	if h := e.HTTP; h != nil {
		if int64(h.Status) != int64(u64(unsafe.Add(v, ViewHTTPStatus))) || h.Bytes != int64(u64(unsafe.Add(v, ViewHTTPBytes))) ||
			math.Float64bits(h.RequestTime) != u64(unsafe.Add(v, ViewHTTPReqTime)) {
			return 0, true
		}
		slots |= bit(diff(b, slot(v, SlotHTTPMethod), h.Method), SlotHTTPMethod) |
			bit(diff(b, slot(v, SlotHTTPPath), h.Path), SlotHTTPPath) |
			bit(diff(b, slot(v, SlotHTTPQuery), h.Query), SlotHTTPQuery) |
			bit(diff(b, slot(v, SlotHTTPProtocol), h.Protocol), SlotHTTPProtocol) |
			bit(diff(b, slot(v, SlotHTTPReferrer), h.Referrer), SlotHTTPReferrer) |
			bit(diff(b, slot(v, SlotHTTPUserAgent), h.UserAgent), SlotHTTPUserAgent) |
			bit(diff(b, slot(v, SlotHTTPRemoteAddr), h.RemoteAddr), SlotHTTPRemoteAddr) |
			bit(diff(b, slot(v, SlotHTTPRemoteUser), h.RemoteUser), SlotHTTPRemoteUser)
	}
	if len(e.Fields) > 0 && in.fieldsDiffer(e, v) {
		slots |= fieldsChanged
	}
	return slots, false
}

// fieldsChanged is the bit of changed's slots for fields.
const fieldsChanged = 1 << 31

// fieldsDiffer reports whether a field of e differs from those of the
// view at v, which has as many.
func (in *Input) fieldsDiffer(e *event.Event, v unsafe.Pointer) bool {
	b := uintptr(in.base())
	t := unsafe.Add(in.base(), u32(unsafe.Add(v, ViewFieldTable)))
	for j := range e.Fields {
		f, p := &e.Fields[j], unsafe.Add(t, 16*j)
		if diff(b, p, f.Name)|diff(b, unsafe.Add(p, 8), f.Value) != 0 {
			return true
		}
	}
	return false
}

// slotString returns e's string of slot s < Slots (Raw as a string
// sharing its bytes).
func slotString(e *event.Event, s uint32) string {
	if s == SlotRaw {
		return bstr(e.Raw)
	}
	if s >= SlotHTTPMethod {
		return *httpSlot(e.HTTP, s)
	}
	return *eventSlot(e, s)
}

// Writer builds an output batch, reusing its buffer.
type Writer struct {
	b []byte
	n uint32
	// open is where a patch that Set began and no Keep appended yet
	// starts in b, or 0 (b starts with status and count); openFrom and
	// openItems are its event and its number of strings.
	open                int
	openFrom, openItems uint32
	// begun is where the item that Begin started and End did not end yet
	// starts in b, or 0.
	begun int
}

// Reset empties w and starts an output batch with status ok.
func (w *Writer) Reset() {
	w.b = le.AppendUint32(w.b[:0], StatusOK)
	w.b = le.AppendUint32(w.b, 0) // the count, set by Bytes
	w.n, w.open, w.begun = 0, 0, 0
}

// Fail makes w an output batch that reports msg as the batch's error.
func (w *Writer) Fail(msg string) {
	w.b = le.AppendUint32(w.b[:0], StatusError)
	w.b = append(w.b, msg...)
	w.n, w.open, w.begun = 0, 0, 0
}

// Len returns the number of events added since Reset.
func (w *Writer) Len() int { return int(w.n) }

// Bytes returns the batch, valid until the next use of w.
func (w *Writer) Bytes() []byte {
	w.drop()
	if len(w.b) >= 8 && le.Uint32(w.b) == StatusOK {
		le.PutUint32(w.b[4:], w.n)
	}
	return w.b
}

// grow makes room for n more bytes.
func (w *Writer) grow(n int) {
	if cap(w.b)-len(w.b) < n {
		w.b = append(w.b[:len(w.b):len(w.b)], make([]byte, max(n, cap(w.b)))...)[:len(w.b)]
	}
}

func (w *Writer) head(from uint32, route string, k Kind) {
	w.drop()
	w.grow(12 + len(route))
	at := len(w.b)
	b := w.b[at : at+12+len(route)]
	le.PutUint32(b, from)
	le.PutUint32(b[4:], uint32(len(route)))
	copy(b[8:], route)
	le.PutUint32(b[8+len(route):], uint32(k))
	w.b = w.b[:at+len(b)]
	w.n++
}

// Keep appends input event from for route ("" for the handler's own):
// unchanged, or as a Patch of the strings Set for it since the last
// append.
func (w *Writer) Keep(from uint32, route string) { w.keepSet(from, route) }

// Record appends e whole, derived from input event from (or NoInput),
// for route.
func (w *Writer) Record(from uint32, route string, e *event.Event) {
	w.head(from, route, Record)
	at := len(w.b)
	w.b = le.AppendUint32(w.b, 0)
	w.b = e.AppendRecord(w.b)
	le.PutUint32(w.b[at:], uint32(len(w.b)-at-4))
}

// Emit appends e, derived from input event from of in (or NoInput), for
// route, in the fewest bytes: as Keep if e is the event in.Event gave for
// from last, as it gave it; as Patch if only strings differ (a string
// differs if it is not the same view into the batch); else as Record.
func (w *Writer) Emit(in *Input, from uint32, route string, e *event.Event) {
	if from != uint32(in.last) || in.last < 0 {
		w.Record(from, route, e)
		return
	}
	v := in.view(in.last)
	slots, reshaped := in.changed(e, v)
	switch {
	case reshaped:
		w.Record(from, route, e)
	case slots == 0:
		w.head(from, route, Keep)
	default:
		w.patch(in, v, from, route, e, slots)
	}
}

// patch appends e as a Patch of the strings in slots.
func (w *Writer) patch(in *Input, v unsafe.Pointer, from uint32, route string, e *event.Event, slots uint32) {
	w.head(from, route, Patch)
	at := len(w.b)
	w.b = le.AppendUint32(w.b, 0)
	items := uint32(0)
	for s := uint32(0); s < Slots; s++ {
		if slots&(1<<s) != 0 {
			w.item(s, slotString(e, s))
			items++
		}
	}
	if slots&fieldsChanged != 0 {
		b := uintptr(in.base())
		t := unsafe.Add(in.base(), u32(unsafe.Add(v, ViewFieldTable)))
		for j := range e.Fields {
			f, p := &e.Fields[j], unsafe.Add(t, 16*j)
			if diff(b, p, f.Name) != 0 {
				w.item(FieldSlot+2*uint32(j), f.Name)
				items++
			}
			if diff(b, unsafe.Add(p, 8), f.Value) != 0 {
				w.item(FieldSlot+2*uint32(j)+1, f.Value)
				items++
			}
		}
	}
	le.PutUint32(w.b[at:], items)
}

func (w *Writer) item(slot uint32, s string) {
	w.grow(8 + len(s))
	at := len(w.b)
	w.b = w.b[:at+8+len(s)]
	b := w.b[at:]
	le.PutUint32(b, slot)
	le.PutUint32(b[4:], uint32(len(s)))
	copy(b[8:], s)
}

// View is one event of an input batch, read where the host wrote it: no
// event is built, nothing is copied. Its strings are views into the
// batch, valid until the batch is gone; they must not be written into.
type View struct {
	in *Input
	v  unsafe.Pointer // the event's view in the batch
	i  int
}

// View sets *v to event i of the batch, 0 ≤ i < Len, after checking
// that its strings and field table lie in the batch.
func (in *Input) View(i int, v *View) error {
	*v = View{in: in, i: i}
	if uint(i) >= uint(in.n) {
		return fmt.Errorf("event %d of a batch of %d", i, in.n)
	}
	if err := in.check(i, i+1); err != nil {
		return err
	}
	v.v = in.view(i)
	return nil
}

// Check checks every event of the batch as View does, and returns the
// first error. After it, At reads any event without a check, and without
// a call in a Go guest, where a call costs more than the checks.
func (in *Input) Check() error {
	err := in.check(0, in.n)
	in.checked = err == nil
	return err
}

// At sets *v to event i of a batch that Check accepted, 0 ≤ i < Len. It
// panics if Check did not, or i is out of range.
func (in *Input) At(i int, v *View) {
	if !in.checked || uint(i) >= uint(in.n) {
		panic("abi: Input.At before Check, or past Len")
	}
	*v = View{in: in, v: in.view(i), i: i}
}

// check checks events from to to-1 as View does.
func (in *Input) check(from, to int) error {
	l := uint64(len(in.b))
	for i := from; i < to; i++ {
		p := in.view(i)
		// Each string's l-end has its high bit set if it ends past l:
		// ORed, one branch for all (max's is one a string in a Go guest).
		if ((l-end(slot(p, 0)))|(l-end(slot(p, 1)))|(l-end(slot(p, 2)))|(l-end(slot(p, 3)))|(l-end(slot(p, 4)))|(l-end(slot(p, 5)))|
			(l-end(slot(p, 6)))|(l-end(slot(p, 7)))|(l-end(slot(p, 8)))|(l-end(slot(p, 9)))|(l-end(slot(p, 10)))|(l-end(slot(p, 11)))|
			(l-end(slot(p, 12)))|(l-end(slot(p, 13)))|(l-end(slot(p, 14)))|(l-end(slot(p, 15)))|(l-end(slot(p, 16)))|(l-end(slot(p, 17)))|
			(l-end(slot(p, 18)))|(l-end(slot(p, 19))))>>63 != 0 {
			return fmt.Errorf("event %d: a string past the end of the batch", i)
		}
		if n := u32(unsafe.Add(p, ViewFieldCount)); n > 0 {
			at := uint64(u32(unsafe.Add(p, ViewFieldTable)))
			if at+16*uint64(n) > l {
				return fmt.Errorf("event %d: field table past the end of the batch", i)
			}
			for j := range uint64(n) {
				f := unsafe.Add(in.base(), at+16*j)
				if max(end(f), end(unsafe.Add(f, 8))) > l {
					return fmt.Errorf("event %d: a field's string past the end of the batch", i)
				}
			}
		}
	}
	return nil
}

// Index returns the event's index in the batch.
func (v *View) Index() int { return v.i }

// String returns the event's string of slot s < Slots (Slot*; Raw as a
// string). The HTTP ones are "" for an event without HTTP.
func (v *View) String(s uint32) string {
	if s >= Slots {
		panic("abi: View.String of a slot past abi.Slots")
	}
	return str(v.in.base(), slot(v.v, int(s)))
}

// Long returns the slots whose strings are at least n bytes long,
// as a mask (bit s for slot s): a handler that looks only at strings long
// enough to match goes through those alone, where calling String for each
// slot costs 20 calls in a Go guest. The HTTP slots are in it only if
// the event has HTTP.
func (v *View) Long(n int) uint32 {
	p, m := v.v, uint64(n-1)
	l := long(p, 0, m) | long(p, 1, m) | long(p, 2, m) | long(p, 3, m) | long(p, 4, m) | long(p, 5, m) | long(p, 6, m) |
		long(p, 7, m) | long(p, 8, m) | long(p, 9, m) | long(p, 10, m) | long(p, 11, m)
	if v.HasHTTP() {
		l |= long(p, 12, m) | long(p, 13, m) | long(p, 14, m) | long(p, 15, m) | long(p, 16, m) | long(p, 17, m) |
			long(p, 18, m) | long(p, 19, m)
	}
	return l
}

// long returns 1<<s if the string of slot s of the view at p is longer
// than m bytes, else 0.
func long(p unsafe.Pointer, s int, m uint64) uint32 {
	return uint32((m-uint64(u32(unsafe.Add(p, 8*s+4))))>>63) << s
}

// HasHTTP reports whether the event has HTTP.
func (v *View) HasHTTP() bool { return u32(unsafe.Add(v.v, ViewHTTP)) != 0 }

// Fields returns the number of fields of the event.
func (v *View) Fields() int { return int(u32(unsafe.Add(v.v, ViewFieldCount))) }

// Field returns the name and value of field j < Fields.
func (v *View) Field(j int) (name, value string) {
	if uint(j) >= uint(v.Fields()) {
		panic(fmt.Sprintf("abi: field %d of a view with %d", j, v.Fields()))
	}
	b := v.in.base()
	f := unsafe.Add(b, uintptr(u32(unsafe.Add(v.v, ViewFieldTable)))+16*uintptr(j))
	return str(b, f), str(b, unsafe.Add(f, 8))
}

// Event sets *e to the whole event, as Input.Event does.
func (v *View) Event(e *event.Event) error { return v.in.Event(v.i, e) }

// Set replaces string slot of input event from (slot < Slots as in the
// view, or FieldSlot+2j and FieldSlot+2j+1 for the name and value of
// field j) in the Patch that the next Keep of from appends; nothing is
// appended until then. Setting a slot for another event first drops what
// was set for the last one, as does any other append.
func (w *Writer) Set(from uint32, slot uint32, s string) {
	w.abandon()
	if w.open == 0 || w.openFrom != from {
		w.openPatch(from)
	}
	w.item(slot, s)
	w.openItems++
}

// Begin starts string slot of input event from, as Set does, but to be
// written straight into the batch: it returns the batch so far, to which
// the caller appends the string's bytes (with append, or writing within
// its capacity) before passing the result to End. The bytes before its
// length must not be changed. Until End, nothing else may be appended: a
// Set, Begin, Keep or any other append first drops the string begun, as
// does Bytes. Begin only when the string is sure to change: a string
// begun and dropped leaves the event's patch open, though empty.
func (w *Writer) Begin(from uint32, slot uint32) []byte {
	w.abandon()
	w.grow(patchHead + 8)
	at := len(w.b)
	if w.open == 0 || w.openFrom != from { // openPatch, without a call
		w.drop()
		at = len(w.b)
		w.b = w.b[:at+patchHead]
		p := unsafe.Pointer(&w.b[at])
		put64(p, uint64(from))                 // and no route
		put64(unsafe.Add(p, 8), uint64(Patch)) // and the items, set by Keep
		w.open, w.openFrom, w.openItems = at, from, 0
		at += patchHead
	}
	w.b = w.b[:at+8]
	put32(unsafe.Pointer(&w.b[at]), slot)
	w.begun = at
	return w.b
}

// Edit replaces the cut bytes from off on in string slot of input event
// from (slot as for Set) with repl, in the Patch that the next Keep of
// from appends (ABI version 3): off is in the string as the patch's
// strings and edits before it make it. The host splices repl in, so the
// guest copies only repl, not the bytes around it.
func (w *Writer) Edit(from, slot, off, cut uint32, repl string) {
	w.abandon()
	if w.open == 0 || w.openFrom != from {
		w.openPatch(from)
	}
	n := 16 + len(repl)
	w.grow(n)
	at := len(w.b)
	w.b = w.b[:at+n]
	p := unsafe.Pointer(&w.b[at])
	put64(p, uint64(slot|EditSlot)|uint64(8+len(repl))<<32)
	put64(unsafe.Add(p, 8), uint64(off)|uint64(cut)<<32)
	if len(repl) >= 8 && len(repl) <= 16 { // two words, without a call to memmove
		q := unsafe.Pointer(unsafe.StringData(repl))
		put64(unsafe.Add(p, 16), u64(q))
		put64(unsafe.Add(p, 8+len(repl)), u64(unsafe.Add(q, len(repl)-8)))
	} else {
		copy(w.b[at+16:], repl)
	}
	w.openItems++
}

// End ends the string that Begin started: b is what Begin returned with
// the string's bytes appended.
func (w *Writer) End(b []byte) {
	at := w.begun
	if at == 0 {
		panic("abi: Writer.End without Begin")
	}
	_ = b[at+7] // b shorter than Begin's: out of range
	put32(unsafe.Pointer(&b[at+4]), uint32(len(b)-at-8))
	w.b, w.begun = b, 0
	w.openItems++
}

// openPatch begins a patch of input event from, for Set.
func (w *Writer) openPatch(from uint32) {
	w.drop()
	w.grow(patchHead)
	at := len(w.b)
	w.b = w.b[:at+patchHead]
	p := unsafe.Pointer(&w.b[at])
	put64(p, uint64(from))                 // and no route
	put64(unsafe.Add(p, 8), uint64(Patch)) // and the items, set by Keep
	w.open, w.openFrom, w.openItems = at, from, 0
}

// patchHead is the size of an open patch's head: from, an empty route,
// kind and item count.
const patchHead = 16

// abandon drops a string that Begin started and End did not end.
func (w *Writer) abandon() {
	if w.begun != 0 {
		w.b, w.begun = w.b[:w.begun], 0
	}
}

// drop forgets an open patch.
func (w *Writer) drop() {
	if w.open > 0 {
		w.b = w.b[:w.open]
		w.open, w.begun = 0, 0
	}
}

// keepSet appends input event from for route: as a Patch of what Set set
// for it, or as Keep if nothing.
func (w *Writer) keepSet(from uint32, route string) {
	w.abandon()
	if w.open == 0 || w.openFrom != from {
		w.drop()
		if route != "" {
			w.head(from, route, Keep)
			return
		}
		// head's, without a call: the common case.
		w.grow(12)
		at := len(w.b)
		w.b = w.b[:at+12]
		p := unsafe.Pointer(&w.b[at])
		put64(p, uint64(from)) // and no route
		put32(unsafe.Add(p, 8), uint32(Keep))
		w.n++
		return
	}
	at, items := w.open, w.openItems
	w.open = 0
	if route == "" {
		put32(unsafe.Pointer(&w.b[at+12]), items)
		w.n++
		return
	}
	// Another route: the head grows by the route's name.
	body := append([]byte(nil), w.b[at+patchHead:]...)
	w.b = w.b[:at]
	w.head(from, route, Patch)
	w.b = le.AppendUint32(w.b, items)
	w.b = append(w.b, body...)
}
