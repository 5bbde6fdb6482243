package file

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sluicehq/sluice/checkpoint"
	"github.com/sluicehq/sluice/event"
)

// reader is the state of one Run: the open files. Only Run's goroutine
// uses it; changes to identities are made under Source.mu.
type reader struct {
	s     *Source
	buf   []byte // read buffer
	head  []byte // buffer for the first bytes of a file, to fingerprint
	tails []*tailer
	grace time.Duration // how long an orphan stays unchanged before it is closed
	now   time.Time     // of the current read round
	// batch holds the events read and not yet queued, ids their
	// identities (to tell, at stop, which were never handed out).
	batch []item
	ids   []*identity
	fresh bool // no checkpoint file was found: StartAt applies to the first scan
}

// tailer is one open file.
type tailer struct {
	f        *os.File
	fi       os.FileInfo // of the descriptor, for os.SameFile
	path     string
	dev, ino uint64
	id       *identity // nil while the file is empty
	pos      int64     // next byte to read
	sp       splitter
	seen     bool   // matched by the latest scan
	cut      bool   // truncated: the next identity is a new one
	lastSize int64  // size at the latest scan
	head     []byte // the file's first bytes, last seen to hash to headFP
	headFP   string
	idle     time.Time // when an orphan was first found unchanged at its end
	done     bool

	// multiline: the pending event
	ml      []byte
	mlOff   int64
	mlEnd   int64
	mlFlags event.Flags
	mlAt    time.Time
}

// loop scans every poll interval and reads until ctx is done.
func (r *reader) loop(ctx context.Context) {
	s := r.s
	timer := time.NewTimer(0)
	defer timer.Stop()
	lastScan := time.Now() // Run made the first scan
	for ctx.Err() == nil {
		r.now = time.Now()
		if r.now.Sub(lastScan) >= s.cfg.PollInterval {
			r.scan(false)
			lastScan = r.now
		}
		more := false
		for _, t := range r.tails {
			m, ok := r.read(ctx, t)
			if !ok {
				return
			}
			more = more || m
		}
		if s.start != nil {
			for _, t := range r.tails {
				if len(t.ml) > 0 && r.now.Sub(t.mlAt) >= s.cfg.Multiline.Timeout && !r.flushML(ctx, t) {
					return
				}
			}
		}
		r.tails = slices.DeleteFunc(r.tails, func(t *tailer) bool { return t.done })
		if !r.push(ctx) {
			return
		}
		if more {
			continue
		}
		timer.Reset(s.cfg.PollInterval)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
	}
}

// scan matches the globs, opens new files, notices truncation and
// orphans, and drops the identities no longer needed.
func (r *reader) scan(first bool) {
	s := r.s
	var paths []string
	for _, p := range s.cfg.Paths {
		m, _ := filepath.Glob(p) // patterns were checked by Validate
		paths = append(paths, m...)
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	for _, t := range r.tails {
		t.seen = false
	}
	s.mu.Lock()
	for _, id := range s.ids {
		id.matched = id.tail != nil
	}
	s.mu.Unlock()
	var fresh []string
	for _, p := range paths {
		if s.excluded(p) {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		t := r.tailerOf(fi)
		if t == nil {
			fresh = append(fresh, p)
			continue
		}
		t.seen = true
		if t.path != p {
			t.path = p
			if t.id != nil {
				s.mu.Lock()
				t.id.path = p
				s.mu.Unlock()
			}
		}
		if fi.Size() != t.lastSize {
			t.lastSize = fi.Size()
			r.checkTruncated(t, fi.Size())
		}
	}
	for _, p := range fresh {
		r.open(p, first)
	}
	// An identity no file matched is kept for the grace period: its file
	// may be on its way into the globs (renamed, or copied by a
	// copytruncate, while this scan listed the directory).
	s.mu.Lock()
	s.ids = slices.DeleteFunc(s.ids, func(id *identity) bool {
		if id.tail != nil || id.matched {
			id.unseen = time.Time{}
			return false
		}
		if id.unseen.IsZero() {
			id.unseen = r.now
		}
		return id.tr.Pending() == 0 && r.now.Sub(id.unseen) >= r.grace
	})
	s.mu.Unlock()
}

func (r *reader) tailerOf(fi os.FileInfo) *tailer {
	for _, t := range r.tails {
		if os.SameFile(t.fi, fi) {
			return t
		}
	}
	return nil
}

// checkTruncated starts t again from offset 0, under a new identity, if it
// is shorter than what was read or its first bytes changed.
func (r *reader) checkTruncated(t *tailer, size int64) {
	if size < t.pos || t.id != nil && r.rewritten(t) {
		r.truncated(t)
	}
}

// rewritten reports whether t's file no longer starts with the bytes its
// identity was taken from: it was truncated and written again, perhaps
// past the offset read so far.
// It runs after every read: the bytes last found to match are kept, so
// that an unchanged file costs a comparison, not a hash.
func (r *reader) rewritten(t *tailer) bool {
	n := t.id.fpLen
	if cap(r.head) < n {
		r.head = make([]byte, n)
	}
	b := r.head[:n]
	if _, err := t.f.ReadAt(b, 0); err != nil {
		return true
	}
	if t.headFP == t.id.fp && bytes.Equal(b, t.head) {
		return false
	}
	if fingerprint(b) != t.id.fp {
		return true
	}
	t.head, t.headFP = append(t.head[:0], b...), t.id.fp
	return false
}

// truncated starts t again from offset 0, under a new identity; the old
// identity waits for a copy to take it over.
func (r *reader) truncated(t *tailer) {
	r.s.log.Info("file truncated: reading it again from the start", "path", t.path)
	r.s.mu.Lock()
	if t.id != nil {
		t.id.tail = nil
		t.id.matched = true // until the next scan: a copy may take it over
		t.id.next = t.sp.off
		if len(t.ml) > 0 {
			t.id.next = t.mlOff
		}
	}
	t.id = nil
	r.s.mu.Unlock()
	t.cut = true
	t.pos = 0
	t.sp.reset(0)
	t.ml = t.ml[:0]
}

// prefix returns the fingerprint of f's first n bytes; ok is false if f
// has fewer.
func (r *reader) prefix(f *os.File, n int) (string, bool) {
	if cap(r.head) < n {
		r.head = make([]byte, n)
	}
	b := r.head[:n]
	if _, err := f.ReadAt(b, 0); err != nil {
		return "", false
	}
	return fingerprint(b), true
}

// open starts reading the file at path, found by a scan.
func (r *reader) open(path string, first bool) {
	s := r.s
	f, err := os.Open(path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("file source: open", "path", path, "err", err)
		}
		return
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return
	}
	t := &tailer{f: f, fi: fi, path: path, seen: true, lastSize: fi.Size(), sp: splitter{max: s.cfg.MaxLineBytes}}
	t.dev, t.ino = fileID(fi)
	if size := fi.Size(); size > 0 {
		if !r.identify(t, size, first) {
			f.Close()
			return
		}
	}
	r.tails = append(r.tails, t)
}

// identify finds or makes t's identity and sets where to start reading.
// It returns false if t is a copy of a file being read.
func (r *reader) identify(t *tailer, size int64, first bool) bool {
	s := r.s
	n := int(min(size, int64(s.cfg.FingerprintBytes)))
	fps := map[int]string{}
	fpOf := func(l int) (string, bool) {
		if fp, ok := fps[l]; ok {
			return fp, true
		}
		fp, ok := r.prefix(t.f, l)
		if ok {
			fps[l] = fp
		}
		return fp, ok
	}
	full, ok := fpOf(n)
	if !ok {
		return true // shrank meanwhile: the next round identifies it
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var match *identity
	for _, id := range s.ids {
		if id.fpLen < 1 || id.fpLen > n {
			continue
		}
		short := id.fpLen < s.cfg.FingerprintBytes
		if short && (id.dev != t.dev || id.ino != t.ino) {
			continue
		}
		if fp, ok := fpOf(id.fpLen); !ok || fp != id.fp {
			continue
		}
		if id.tail != nil {
			if !short {
				return false // a copy of a file being read
			}
			continue
		}
		if match == nil || id.fpLen > match.fpLen {
			match = id
		}
	}
	if match != nil {
		off, _ := match.tr.Committed()
		off = max(off, match.next)
		if off <= size {
			match.next = 0
			match.fp, match.fpLen, match.path, match.dev, match.ino = full, n, t.path, t.dev, t.ino
			match.tail, match.matched = t, true
			t.id, t.pos = match, off
			t.sp.reset(off)
			s.log.Info("file source: resuming", "path", t.path, "offset", off)
			return true
		}
		// Shorter than its checkpoint: truncated while we were away.
	}
	var start int64
	if first && r.fresh && s.cfg.StartAt == "end" {
		start = size
	}
	t.id = &identity{fp: full, fpLen: n, path: t.path, dev: t.dev, ino: t.ino, tr: checkpoint.NewAt(start), tail: t, matched: true}
	t.pos = start
	t.sp.reset(start)
	s.ids = append(s.ids, t.id)
	return true
}

// read reads what t has, up to a budget. more reports that t has more;
// ok is false when ctx is done.
func (r *reader) read(ctx context.Context, t *tailer) (more, ok bool) {
	s := r.s
	fi, err := t.f.Stat()
	if err != nil {
		return false, true
	}
	size := fi.Size()
	if size < t.pos {
		r.checkTruncated(t, size)
	}
	if t.id == nil {
		if size == 0 {
			return false, true
		}
		if t.cut {
			r.newIdentity(t, size)
		} else if !r.identify(t, size, false) {
			// Found empty, it turned out to be a copy of a file being read.
			t.f.Close()
			t.done = true
			return false, true
		}
		if t.id == nil {
			return false, true
		}
	}
	if !r.recorded(t) {
		return false, true
	}
	for budget := 1 << 20; budget > 0; {
		n, err := t.f.ReadAt(r.buf, t.pos)
		if n > 0 && r.rewritten(t) {
			// Truncated and written again since the last look (a
			// copytruncate): what was read belongs to the new content,
			// which is read from its start instead.
			r.truncated(t)
			return true, true
		}
		if n > 0 {
			t.idle = time.Time{}
			if !r.emit(ctx, t, r.buf[:n]) {
				return false, false
			}
			t.pos += int64(n)
			budget -= n
			if t.id.fpLen < s.cfg.FingerprintBytes && t.pos > int64(t.id.fpLen) {
				r.upgrade(t)
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			s.log.Warn("file source: read", "path", t.path, "err", err)
			return false, true
		}
		if n < len(r.buf) {
			return r.atEnd(ctx, t)
		}
	}
	return true, true
}

// recorded reports whether t's identity is in the checkpoint file, writing
// it if not: no line of a file is handed on before a restart would find
// the file's checkpoint, so that a crash cannot make a file read from its
// start look like one found at the first start (see StartAt). While writes
// fail, it tries at most once per CheckpointInterval.
func (r *reader) recorded(t *tailer) bool {
	if t.id.durable.Load() {
		return true
	}
	s := r.s
	s.mu.Lock()
	wait := s.ckErr != nil && time.Since(s.ckFailedAt) < s.cfg.CheckpointInterval
	s.mu.Unlock()
	return !wait && s.persist() == nil
}

// newIdentity gives t, which was empty or truncated, a new identity read
// from offset 0.
func (r *reader) newIdentity(t *tailer, size int64) {
	n := int(min(size, int64(r.s.cfg.FingerprintBytes)))
	fp, ok := r.prefix(t.f, n)
	if !ok {
		return
	}
	r.s.mu.Lock()
	t.id = &identity{fp: fp, fpLen: n, path: t.path, dev: t.dev, ino: t.ino, tr: checkpoint.NewAt[int64](0), tail: t, matched: true}
	r.s.ids = append(r.s.ids, t.id)
	r.s.mu.Unlock()
	t.pos = 0
	t.sp.reset(0)
}

// upgrade lengthens t's fingerprint now that the file has grown, unless
// its first bytes are no longer those the fingerprint was taken from: a
// file truncated and written again since its last read must not give its
// new content the old identity (and offset); the next read notices it.
func (r *reader) upgrade(t *tailer) {
	n := int(min(t.pos, int64(r.s.cfg.FingerprintBytes)))
	if cap(r.head) < n {
		r.head = make([]byte, n)
	}
	b := r.head[:n]
	if _, err := t.f.ReadAt(b, 0); err != nil || fingerprint(b[:t.id.fpLen]) != t.id.fp {
		return
	}
	fp := fingerprint(b)
	r.s.mu.Lock()
	t.id.fp, t.id.fpLen = fp, n
	r.s.mu.Unlock()
}

// atEnd handles t at its end: an orphan (no longer matched by the globs,
// renamed away or deleted) that stays unchanged for the grace period is
// finished and closed.
func (r *reader) atEnd(ctx context.Context, t *tailer) (more, ok bool) {
	if t.seen {
		return false, true
	}
	if t.idle.IsZero() {
		t.idle = r.now
		return false, true
	}
	if r.now.Sub(t.idle) < r.grace {
		return false, true
	}
	send := func(line []byte, off, end int64, flags event.Flags) bool {
		return r.line(ctx, t, append([]byte(nil), line...), off, end, flags)
	}
	okAll := true
	t.sp.flush(func(line []byte, off, end int64, flags event.Flags) { okAll = okAll && send(line, off, end, flags) })
	if !okAll || !r.flushML(ctx, t) {
		return false, false
	}
	r.s.log.Info("file source: finished a rotated or deleted file", "path", t.path, "offset", t.pos)
	r.s.mu.Lock()
	if t.id != nil {
		t.id.tail = nil
		t.id.unseen = r.now.Add(-r.grace) // its file is gone: no grace at the next scan
	}
	r.s.mu.Unlock()
	t.f.Close()
	t.done = true
	return false, true
}

// emit splits data into lines and queues their events. The lines share
// one new buffer.
func (r *reader) emit(ctx context.Context, t *tailer, data []byte) bool {
	arena := make([]byte, 0, len(t.sp.pend)+len(data))
	ok := true
	t.sp.write(data, func(line []byte, off, end int64, flags event.Flags) {
		if !ok {
			return
		}
		start := len(arena)
		arena = append(arena, line...)
		ok = r.line(ctx, t, arena[start:len(arena):len(arena)], off, end, flags)
	})
	return ok
}

// line queues one line's event, or adds it to the pending multiline event.
func (r *reader) line(ctx context.Context, t *tailer, raw []byte, off, end int64, flags event.Flags) bool {
	s := r.s
	if s.start == nil {
		return r.send(ctx, t, raw, off, end, flags)
	}
	if len(t.ml) > 0 && !s.start.Match(raw) && len(t.ml)+1+len(raw) <= s.cfg.MaxLineBytes && t.mlFlags&event.Split == 0 {
		t.ml = append(append(t.ml, '\n'), raw...)
		t.mlEnd, t.mlFlags, t.mlAt = end, flags, r.now
		return true
	}
	if !r.flushML(ctx, t) {
		return false
	}
	t.ml = append(t.ml[:0], raw...)
	t.mlOff, t.mlEnd, t.mlFlags, t.mlAt = off, end, flags, r.now
	return true
}

// flushML queues the pending multiline event, if any.
func (r *reader) flushML(ctx context.Context, t *tailer) bool {
	if len(t.ml) == 0 {
		return true
	}
	raw := append([]byte(nil), t.ml...)
	t.ml = t.ml[:0]
	return r.send(ctx, t, raw, t.mlOff, t.mlEnd, t.mlFlags)
}

// send tracks the event's end offset and adds it to the batch, which it
// queues once full.
func (r *reader) send(ctx context.Context, t *tailer, raw []byte, off, end int64, flags event.Flags) bool {
	s := r.s
	if r.batch == nil {
		select {
		case r.batch = <-s.free:
		default:
			r.batch = make([]item, 0, handOff)
		}
	}
	seq := t.id.tr.Track(end)
	r.batch = append(r.batch, item{ev: event.Event{ReceivedAt: r.now, Source: s.name, SourceType: "file", Raw: raw, Flags: flags,
		File: event.File{Path: t.path, Offset: off}}, ack: t.id.tr.AckFunc(seq)})
	r.ids = append(r.ids, t.id)
	if len(r.batch) < handOff {
		return true
	}
	return r.push(ctx)
}

// push queues the batch, if any, waiting for room until ctx is done.
func (r *reader) push(ctx context.Context) bool {
	if len(r.batch) == 0 {
		return true
	}
	r.s.queued.Add(int64(len(r.batch)))
	select {
	case r.s.items <- r.batch:
		r.batch, r.ids = nil, r.ids[:0]
		return true
	case <-ctx.Done():
		r.s.queued.Add(-int64(len(r.batch)))
		return false
	}
}

// unqueued counts, per identity, the events tracked and never queued.
func (r *reader) unqueued() map[*identity]int {
	m := map[*identity]int{}
	for _, id := range r.ids {
		m[id]++
	}
	return m
}
