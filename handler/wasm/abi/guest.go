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
type Input struct {
	b []byte
	n int
	// last is the index of the event Event gave last, and cur, curHTTP
	// and curFields that event as it gave it, which Writer.Emit compares
	// with what the guest emits; http and fields are the guest's copies.
	last      int
	cur       event.Event
	curHTTP   event.HTTP
	curFields []event.Field
	http      event.HTTP
	fields    []event.Field
	times     [2]lastTime // Time, ReceivedAt
}

// Reset starts reading input batch b.
func (in *Input) Reset(b []byte) error {
	in.b, in.n, in.last = b, 0, -1
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

func (in *Input) view(i int) []byte { return in.b[4+i*ViewSize : 4+(i+1)*ViewSize : 4+(i+1)*ViewSize] }

// str returns the string whose offset and length are at p[0:8], which
// fits has checked.
func (in *Input) str(p []byte) string {
	return unsafe.String((*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(in.b)), le.Uint32(p))), le.Uint32(p[4:8]))
}

// fits reports whether the n strings whose offsets and lengths are at p
// lie in the batch.
func (in *Input) fits(p []byte, n int) bool {
	for j := range n {
		if uint64(le.Uint32(p[8*j:]))+uint64(le.Uint32(p[8*j+4:])) > uint64(len(in.b)) {
			return false
		}
	}
	return true
}

// Event sets *e to event i, 0 ≤ i < Len. Its strings and Raw are views
// into the batch: Raw must not be written into (assign a new slice).
func (in *Input) Event(i int, e *event.Event) error {
	v := in.view(i)
	in.last = -1
	if !in.fits(v, Slots) {
		*e = event.Event{}
		return fmt.Errorf("event %d: a string past the end of the batch", i)
	}
	c := &in.cur
	c.Time = in.times[0].get(v[ViewTime:], v[ViewTimeNanos:])
	c.ReceivedAt = in.times[1].get(v[ViewReceivedAt:], v[ViewRecvNanos:])
	c.Source = in.str(v[8*SlotSource:])
	c.SourceType = in.str(v[8*SlotSourceType:])
	c.Host = in.str(v[8*SlotHost:])
	c.ContentType = in.str(v[8*SlotContentType:])
	c.Raw = nil
	if raw := in.str(v[8*SlotRaw:]); raw != "" {
		c.Raw = unsafe.Slice(unsafe.StringData(raw), len(raw))
	}
	c.Flags = event.Flags(le.Uint32(v[ViewFlags:]))
	c.File.Path = in.str(v[8*SlotFilePath:])
	c.File.Offset = int64(le.Uint64(v[ViewFileOffset:]))
	w := le.Uint32(v[ViewSyslog:])
	c.Syslog.Present, c.Syslog.Facility, c.Syslog.Severity, c.Syslog.Version = w&1 != 0, byte(w>>8), byte(w>>16), byte(w>>24)
	c.Syslog.Hostname = in.str(v[8*SlotSyslogHostname:])
	c.Syslog.AppName = in.str(v[8*SlotSyslogAppName:])
	c.Syslog.ProcID = in.str(v[8*SlotSyslogProcID:])
	c.Syslog.MsgID = in.str(v[8*SlotSyslogMsgID:])
	c.Syslog.StructuredData = in.str(v[8*SlotSyslogStructuredData:])
	c.Syslog.Message = in.str(v[8*SlotSyslogMessage:])
	c.HTTP = nil
	if le.Uint32(v[ViewHTTP:]) != 0 {
		in.curHTTP = event.HTTP{
			Method: in.str(v[8*SlotHTTPMethod:]), Path: in.str(v[8*SlotHTTPPath:]), Query: in.str(v[8*SlotHTTPQuery:]),
			Protocol: in.str(v[8*SlotHTTPProtocol:]), Status: int(int64(le.Uint64(v[ViewHTTPStatus:]))),
			Bytes: int64(le.Uint64(v[ViewHTTPBytes:])), Referrer: in.str(v[8*SlotHTTPReferrer:]),
			UserAgent: in.str(v[8*SlotHTTPUserAgent:]), RequestTime: math.Float64frombits(le.Uint64(v[ViewHTTPReqTime:])),
			RemoteAddr: in.str(v[8*SlotHTTPRemoteAddr:]), RemoteUser: in.str(v[8*SlotHTTPRemoteUser:]),
		}
		in.http = in.curHTTP
		c.HTTP = &in.http
	}
	c.Fields = nil
	if n := le.Uint32(v[ViewFieldCount:]); n > 0 {
		at := uint64(le.Uint32(v[ViewFieldTable:]))
		if at+16*uint64(n) > uint64(len(in.b)) {
			*e = event.Event{}
			return fmt.Errorf("event %d: field table past the end of the batch", i)
		}
		if !in.fits(in.b[at:], 2*int(n)) {
			*e = event.Event{}
			return fmt.Errorf("event %d: a field's string past the end of the batch", i)
		}
		in.curFields = in.curFields[:0]
		for j := range uint64(n) {
			p := in.b[at+16*j:]
			in.curFields = append(in.curFields, event.Field{Name: in.str(p), Value: in.str(p[8:])})
		}
		in.fields = append(in.fields[:0], in.curFields...)
		c.Fields = in.fields[:n:n]
	}
	*e = *c
	in.last = i
	return nil
}

// lastTime is the time of the last event: the events of a batch often
// share one, and making a time.Time is dear in WebAssembly.
type lastTime struct {
	sec uint64
	ns  uint32
	t   time.Time
}

func (l *lastTime) get(sec, nsec []byte) time.Time {
	s, ns := le.Uint64(sec), le.Uint32(nsec)
	if s != l.sec || ns != l.ns {
		l.sec, l.ns, l.t = s, ns, time.Time{}
		if ns != zeroTime {
			l.t = time.Unix(int64(s), int64(ns)).UTC()
		}
	}
	return l.t
}

// same reports whether a and b are the same string in the same memory.
func same(a, b string) bool {
	return len(a) == len(b) && (len(a) == 0 || unsafe.StringData(a) == unsafe.StringData(b))
}

// unchanged reports whether e is the event Event gave last, as it gave
// it: the same strings in the same memory, the same numbers.
func (in *Input) unchanged(e *event.Event) bool {
	if !sameMem(e, &in.cur) || e.HTTP != nil && !sameMem(e.HTTP, &in.curHTTP) {
		return false
	}
	for j := range e.Fields {
		if !sameMem(&e.Fields[j], &in.curFields[j]) {
			return false
		}
	}
	return true
}

// sameMem reports whether *p and *q hold the same bytes. It compares
// words: Go's memequal for WebAssembly compares bytes, eight times the
// iterations.
func sameMem[T any](p, q *T) bool {
	a, b := unsafe.Pointer(p), unsafe.Pointer(q)
	n := unsafe.Sizeof(*p)
	i := uintptr(0)
	for ; i+8 <= n; i += 8 {
		if *(*uint64)(unsafe.Add(a, i)) != *(*uint64)(unsafe.Add(b, i)) {
			return false
		}
	}
	for ; i < n; i++ {
		if *(*byte)(unsafe.Add(a, i)) != *(*byte)(unsafe.Add(b, i)) {
			return false
		}
	}
	return true
}

// sameShape reports whether e has all that a patch of the event Event
// gave last cannot change as it was: times, flags, offsets, syslog's
// numbers, HTTP's presence and numbers, and the number of fields.
func (in *Input) sameShape(e *event.Event) bool {
	c := &in.cur
	if e.Time != c.Time || e.ReceivedAt != c.ReceivedAt || e.Flags != c.Flags || e.File.Offset != c.File.Offset ||
		e.Syslog.Present != c.Syslog.Present || e.Syslog.Facility != c.Syslog.Facility || e.Syslog.Severity != c.Syslog.Severity ||
		e.Syslog.Version != c.Syslog.Version || len(e.Fields) != len(c.Fields) || (e.HTTP == nil) != (c.HTTP == nil) {
		return false
	}
	h, ch := e.HTTP, &in.curHTTP
	return h == nil || h.Status == ch.Status && h.Bytes == ch.Bytes && math.Float64bits(h.RequestTime) == math.Float64bits(ch.RequestTime)
}

// Writer builds an output batch, reusing its buffer.
type Writer struct {
	b []byte
	n uint32
}

// Reset empties w and starts an output batch with status ok.
func (w *Writer) Reset() {
	w.b = le.AppendUint32(w.b[:0], StatusOK)
	w.b = le.AppendUint32(w.b, 0) // the count, set by Bytes
	w.n = 0
}

// Fail makes w an output batch that reports msg as the batch's error.
func (w *Writer) Fail(msg string) {
	w.b = le.AppendUint32(w.b[:0], StatusError)
	w.b = append(w.b, msg...)
	w.n = 0
}

// Len returns the number of events added since Reset.
func (w *Writer) Len() int { return int(w.n) }

// Bytes returns the batch, valid until the next use of w.
func (w *Writer) Bytes() []byte {
	if len(w.b) >= 8 && le.Uint32(w.b) == StatusOK {
		le.PutUint32(w.b[4:], w.n)
	}
	return w.b
}

func (w *Writer) head(from uint32, route string, k Kind) {
	w.b = le.AppendUint32(w.b, from)
	w.b = le.AppendUint32(w.b, uint32(len(route)))
	w.b = append(w.b, route...)
	w.b = le.AppendUint32(w.b, uint32(k))
	w.n++
}

// Keep appends input event from, unchanged, for route ("" for the
// handler's own).
func (w *Writer) Keep(from uint32, route string) { w.head(from, route, Keep) }

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
	if in.unchanged(e) {
		w.Keep(from, route)
		return
	}
	if !in.sameShape(e) {
		w.Record(from, route, e)
		return
	}
	w.head(from, route, Patch)
	at := len(w.b)
	w.b = le.AppendUint32(w.b, 0)
	items := uint32(0)
	c := &in.cur
	for _, p := range [...]struct {
		slot   uint32
		s, was string
	}{
		{SlotSource, e.Source, c.Source}, {SlotSourceType, e.SourceType, c.SourceType}, {SlotHost, e.Host, c.Host},
		{SlotContentType, e.ContentType, c.ContentType}, {SlotRaw, bstr(e.Raw), bstr(c.Raw)}, {SlotFilePath, e.File.Path, c.File.Path},
		{SlotSyslogHostname, e.Syslog.Hostname, c.Syslog.Hostname}, {SlotSyslogAppName, e.Syslog.AppName, c.Syslog.AppName},
		{SlotSyslogProcID, e.Syslog.ProcID, c.Syslog.ProcID}, {SlotSyslogMsgID, e.Syslog.MsgID, c.Syslog.MsgID},
		{SlotSyslogStructuredData, e.Syslog.StructuredData, c.Syslog.StructuredData}, {SlotSyslogMessage, e.Syslog.Message, c.Syslog.Message},
	} {
		if !same(p.s, p.was) {
			w.item(p.slot, p.s)
			items++
		}
	}
	if h, ch := e.HTTP, &in.curHTTP; h != nil {
		for _, p := range [...]struct {
			slot   uint32
			s, was string
		}{
			{SlotHTTPMethod, h.Method, ch.Method}, {SlotHTTPPath, h.Path, ch.Path}, {SlotHTTPQuery, h.Query, ch.Query},
			{SlotHTTPProtocol, h.Protocol, ch.Protocol}, {SlotHTTPReferrer, h.Referrer, ch.Referrer}, {SlotHTTPUserAgent, h.UserAgent, ch.UserAgent},
			{SlotHTTPRemoteAddr, h.RemoteAddr, ch.RemoteAddr}, {SlotHTTPRemoteUser, h.RemoteUser, ch.RemoteUser},
		} {
			if !same(p.s, p.was) {
				w.item(p.slot, p.s)
				items++
			}
		}
	}
	for j, f := range e.Fields {
		if was := in.curFields[j]; !same(f.Name, was.Name) {
			w.item(FieldSlot+2*uint32(j), f.Name)
			items++
		}
		if was := in.curFields[j]; !same(f.Value, was.Value) {
			w.item(FieldSlot+2*uint32(j)+1, f.Value)
			items++
		}
	}
	if items == 0 { // the same strings, in other memory or order
		w.b = w.b[:at]
		le.PutUint32(w.b[at-4:], uint32(Keep))
		return
	}
	le.PutUint32(w.b[at:], items)
}

func (w *Writer) item(slot uint32, s string) {
	w.b = le.AppendUint32(w.b, slot)
	w.b = le.AppendUint32(w.b, uint32(len(s)))
	w.b = append(w.b, s...)
}
