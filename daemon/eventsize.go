package daemon

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/spool"
)

// EventLimiter is implemented by the config of a source that bounds the
// size of its events. RecordLimit returns an upper bound of the record
// ([event.Event.AppendRecord]) of any event the source makes, not
// counting the names, host and file path that every record carries
// (recordOverhead covers them), and the config field that sets the bound,
// such as "maxBodyBytes". validate then checks that every disk buffer
// behind the source holds such a record.
type EventLimiter interface {
	RecordLimit() (n int64, field string)
}

// recordOverhead bounds what a record holds besides what RecordLimit
// counts: the source's name and type, host, content type, file path,
// times and lengths.
const recordOverhead = 8 << 10

// maxRecord returns the largest record a spool of c holds: one frame
// must fit a segment, and one Send the room past a segment.
func maxRecord(c spool.Config) int64 {
	return min(c.SegmentBytes, c.MaxBytes-c.SegmentBytes) - spool.HeaderSize
}

// checkEventSizes checks that every disk buffer can hold the largest event
// of every source that feeds it, naming the buffer's segmentBytes and the
// source's field: an event larger than a spool's record would have to go
// around the spool (see diskBuffer.Send).
func (p *Plan) checkEventSizes() []error {
	limits := map[string]struct {
		n     int64
		field string
	}{}
	for _, s := range p.Sources {
		if l, ok := s.Config.(EventLimiter); ok {
			n, field := l.RecordLimit()
			limits[s.Name] = struct {
				n     int64
				field string
			}{n, field}
		}
	}
	buffers := map[string]bufferSpec{}
	for _, b := range p.buffers() {
		buffers[b.path] = b
	}
	feeds := map[string]map[string]bool{} // buffer path → sources
	add := func(path string, from []string) {
		if _, ok := buffers[path]; !ok {
			return
		}
		if feeds[path] == nil {
			feeds[path] = map[string]bool{}
		}
		for _, s := range from {
			feeds[path][s] = true
		}
	}
	for i, r := range p.Routes {
		add(fmt.Sprintf("routes[%d].buffer", i), r.From)
		for _, d := range r.To {
			add("destinations."+d+".buffer", r.From)
		}
	}
	var errs []error
	paths := make([]string, 0, len(feeds))
	for path := range feeds {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		b := buffers[path]
		maxBytes, segBytes := b.c.sizes()
		if segBytes < spool.MinSegmentBytes || maxBytes < 2*segBytes {
			continue // reported by the buffer's Validate
		}
		room := maxRecord(spool.Config{SegmentBytes: segBytes, MaxBytes: maxBytes})
		srcs := make([]string, 0, len(feeds[path]))
		for s := range feeds[path] {
			srcs = append(srcs, s)
		}
		sort.Strings(srcs)
		for _, s := range srcs {
			l, ok := limits[s]
			if !ok || l.n+recordOverhead <= room {
				continue
			}
			need := l.n + recordOverhead
			errs = append(errs, &config.FieldError{Path: path + ".segmentBytes", Msg: fmt.Sprintf(
				"%d bytes cannot hold the largest event of source %q (set by sources.%s.%s), whose record may take %d; "+
					"raise segmentBytes to at least %d (and maxBytes to at least twice that), or lower sources.%s.%s",
				segBytes, s, s, l.field, need, need+spool.HeaderSize, s, l.field)})
		}
	}
	return errs
}

// recordBound returns an upper bound of the size of e's record, without
// encoding it: its bytes plus the most a length or a fixed field takes.
func recordBound(e *event.Event) int {
	const perString = 10 // a uvarint length
	n := 64 + 6*perString + len(e.Source) + len(e.SourceType) + len(e.Host) + len(e.ContentType) + len(e.Raw) + len(e.File.Path)
	if s := &e.Syslog; *s != (event.Syslog{}) {
		n += 6*perString + len(s.Hostname) + len(s.AppName) + len(s.ProcID) + len(s.MsgID) + len(s.StructuredData) + len(s.Message)
	}
	if h := e.HTTP; h != nil {
		n += 64 + 8*perString + len(h.Method) + len(h.Path) + len(h.Query) + len(h.Protocol) + len(h.Referrer) + len(h.UserAgent) + len(h.RemoteAddr) + len(h.RemoteUser)
	}
	for _, f := range e.Fields {
		n += 2*perString + len(f.Name) + len(f.Value)
	}
	return n
}

// recordSize returns the size of e's record if it may exceed max, and 0
// if it certainly does not: most events are checked without encoding.
func recordSize(e *event.Event, max int) int {
	if recordBound(e) <= max {
		return 0
	}
	return len(e.AppendRecord(nil))
}

// refuse moves the msgs whose record is larger than b's spool takes to
// rejected, marked for the route's dead letter with the reason (see
// [Reject]); the caller's route has one, and the source's ack then waits
// for the dead letter's write. Each is counted (sluice_errors_total,
// cause "tooLarge") and logged at most every 10s. msgs is never modified;
// refuse allocates only when it finds one.
func (b *diskBuffer) refuse(msgs, rejected []msg) (kept, _ []msg) {
	for i := range msgs {
		n := recordSize(&msgs[i].Value, b.maxRec)
		if n <= b.maxRec {
			if kept != nil {
				kept = append(kept, msgs[i])
			}
			continue
		}
		if kept == nil {
			kept = append(make([]msg, 0, len(msgs)-1), msgs[:i]...)
		}
		reason := fmt.Sprintf("too large for the spool: %d bytes, buffer %s segmentBytes %d", n, b.name, b.seg)
		rejected = append(rejected, Reject(msgs[i], reason))
		b.m.Error("tooLarge")
		b.tooLarge.Do(func() {
			b.log.Warn("buffer: an event too large for the spool goes to the route's dead letter (logged at most every 10s); raise segmentBytes",
				"bytes", n, "max", b.maxRec, "source", msgs[i].Value.Source)
		})
	}
	if kept == nil {
		return msgs, rejected
	}
	return kept, rejected
}

// every runs a function at most once every 10s; it is safe for concurrent
// use, and its zero value is ready.
type every struct {
	mu   sync.Mutex
	last time.Time
}

func (e *every) Do(f func()) {
	e.mu.Lock()
	now := time.Now()
	run := e.last.IsZero() || now.Sub(e.last) >= 10*time.Second
	if run {
		e.last = now
	}
	e.mu.Unlock()
	if run {
		f()
	}
}
