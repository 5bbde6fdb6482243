package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sluicehq/sluice"
)

// Send appends the values of msgs, in order, as records (keys, topics and
// attributes are not stored: encode them into the value). It is safe for
// concurrent use; the records of one Send are contiguous.
//
// With Sync "batch", ack is called, before Send returns, once the records
// are fsynced; Sends waiting at the same moment share one fsync. With Sync
// "interval", ack is called once they are written (see [Config.Sync] for
// the loss window). When the spool is full, Send waits for room, or, with
// WhenFull "dropNewest", drops the records, counts and logs them and acks.
// While the file system is full (ENOSPC, or a quota), Send waits and
// tries again, as it waits for room. If ctx is done first, Send returns
// its error and does not ack; records already written are still
// delivered. A record whose frame exceeds SegmentBytes is an error
// wrapping [ErrTooLarge]. After Run stops, Send returns an error wrapping
// sluice.ErrClosed and, if Run failed, the error it failed with.
func (s *Spool) Send(ctx context.Context, ack func(), msgs ...sluice.Message[[]byte]) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("spool: send: %w", err)
	}
	if err := s.waitReady(ctx); err != nil {
		return fmt.Errorf("spool: send: %w", err)
	}
	var need int64
	for _, m := range msgs {
		n := int64(headerSize + len(m.Value))
		if n > s.c.SegmentBytes {
			return fmt.Errorf("spool: send: %w: record of %d bytes, segments of %d", ErrTooLarge, len(m.Value), s.c.SegmentBytes)
		}
		need += n
	}
	if need > s.c.MaxBytes-s.c.SegmentBytes {
		return fmt.Errorf("spool: send: %w: %d bytes in one Send exceed maxBytes-segmentBytes", ErrTooLarge, need)
	}
	if err := s.reserve(ctx, need, len(msgs)); err != nil {
		if err == errDropped {
			sluice.Ack(ack)
			return nil
		}
		return fmt.Errorf("spool: send: %w", err)
	}
	if len(msgs) == 0 {
		sluice.Ack(ack)
		return nil
	}
	end, err := s.writeAll(ctx, msgs, need)
	if err != nil {
		return fmt.Errorf("spool: send: %w", err)
	}
	if s.c.Sync == SyncBatch {
		if err := s.syncTo(ctx, end); err != nil {
			return fmt.Errorf("spool: send: %w", err)
		}
	}
	sluice.Ack(ack)
	return nil
}

// ErrTooLarge is the error, wrapped, of a Send whose records cannot be
// written: one record's frame exceeds SegmentBytes, or all of them together
// MaxBytes-SegmentBytes. Nothing of that Send is written or acked; the
// caller refuses the records or sends them elsewhere.
var ErrTooLarge = errors.New("too large for the spool")

// dropLogInterval spaces the warnings about dropped records; the count
// is exact in Stats.
const dropLogInterval = 10 * time.Second

type dropError struct{}

func (dropError) Error() string { return "dropped" }

var errDropped error = dropError{}

// reserve takes need bytes of the spool's room, waiting for it (or
// dropping) when the spool is full.
func (s *Spool) reserve(ctx context.Context, need int64, records int) error {
	for {
		s.mu.Lock()
		if s.closed {
			err := s.closedErrLocked()
			s.mu.Unlock()
			return err
		}
		if s.failErr != nil {
			err := s.failErr
			s.mu.Unlock()
			return err
		}
		if s.total+need <= s.c.MaxBytes {
			s.total += need
			s.mu.Unlock()
			return nil
		}
		if s.c.WhenFull == WhenFullDropNewest {
			s.st.dropped += int64(records)
			dropped, now := s.st.dropped, time.Now()
			logIt := now.Sub(s.droppedLogged) >= dropLogInterval
			if logIt {
				s.droppedLogged = now
			}
			s.mu.Unlock()
			if logIt {
				s.o.log.Warn("spool: full, dropping newest records (logged at most every 10s)", "dir", s.c.Dir, "records", records, "droppedTotal", dropped)
			}
			return errDropped
		}
		room := s.room
		s.waiting++
		s.mu.Unlock()
		var err error
		select {
		case <-room:
		case <-ctx.Done():
			err = ctx.Err()
		case <-s.done:
			err = s.closedErr()
		}
		s.mu.Lock()
		s.waiting--
		s.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

// writeAll writes msgs, for which need bytes are reserved, and returns
// the value of written after them. While the file system is full it waits
// and tries again; if ctx is done or the spool stops first, it releases the
// room of the records not written and returns the error (the records
// written are still delivered).
func (s *Spool) writeAll(ctx context.Context, msgs []sluice.Message[[]byte], need int64) (int64, error) {
	for {
		n, end, err := s.write(msgs)
		for _, m := range msgs[:n] {
			need -= int64(headerSize + len(m.Value))
		}
		msgs = msgs[n:]
		if err == nil || !isNoSpace(err) {
			return end, err
		}
		s.sealForSpace()
		if werr := s.waitSpace(ctx.Done()); werr != nil {
			s.mu.Lock()
			s.total -= need
			s.mu.Unlock()
			if ctx.Err() != nil {
				return 0, fmt.Errorf("%w (%w)", ctx.Err(), err)
			}
			return 0, s.closedErr()
		}
	}
}

// sealForSpace seals the current segment, if it holds records, after a
// write failed for lack of space: a segment is deleted once sealed and
// acked, so the space its records take comes back once the destination
// has them, even when the file system cannot hold one whole segment. The
// new segment needs no data block until written. Call without wmu.
func (s *Spool) sealForSpace() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	ok := !s.closed && s.cur != nil && s.curSeg.size > 0
	s.mu.Unlock()
	if ok && s.roll() == nil { // no space: counted, tried again; any other error is fatal, and recorded
		s.syncAll() // closes the sealed file: a deleted file open somewhere keeps its space
	}
}

// write appends the frames of msgs to the current segment, rolling to a
// new one as needed, and returns how many of msgs it wrote and the value
// of written after them. A write that fails for lack of space is undone
// (see nospace.go) and its error wraps errNoSpace; any other error is
// fatal to the spool.
func (s *Spool) write(msgs []sluice.Message[[]byte]) (int, int64, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	closed, size := s.closed || s.cur == nil, s.curSeg.size
	var err error
	if closed {
		err = s.closedErrLocked()
	}
	s.mu.Unlock()
	if closed {
		return 0, 0, err
	}
	at := s.o.now().UnixNano()
	buf := s.wbuf[:0]
	first, firstSeq := 0, s.nextSeq // the first record in buf
	fail := func(err error) (int, int64, error) {
		s.nextSeq = firstSeq // the records of buf are not on disk
		s.mu.Lock()
		end := s.written
		s.mu.Unlock()
		return first, end, err
	}
	for i, m := range msgs {
		n := int64(headerSize + len(m.Value))
		if size+int64(len(buf))+n > s.c.SegmentBytes && size+int64(len(buf)) > 0 {
			if err := s.flush(buf); err != nil {
				return fail(err)
			}
			buf, first, firstSeq = buf[:0], i, s.nextSeq
			if err := s.roll(); err != nil {
				return fail(err)
			}
			size = 0
		}
		buf = appendFrame(buf, s.nextSeq, at, m.Value)
		s.nextSeq++
	}
	if err := s.flush(buf); err != nil {
		return fail(err)
	}
	if cap(buf) <= 1<<20 {
		s.wbuf = buf[:0]
	}
	s.mu.Lock()
	end := s.written
	s.spaceBackLocked()
	s.mu.Unlock()
	return len(msgs), end, nil
}

// flush writes buf to the current segment. Call with wmu held. If the
// file system is full, it truncates the segment back to its last whole
// record and returns an error wrapping errNoSpace.
func (s *Spool) flush(buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	n, err := s.cur.Write(buf)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil && isNoSpace(err) {
		if terr := s.cur.Truncate(s.curSeg.size); terr != nil {
			err = fmt.Errorf("write segment %d: %w; truncating the partial write: %w", s.curSeg.id, err, terr)
			s.fail(err)
			return err
		}
		s.noSpaceLocked(err)
		return fmt.Errorf("write segment %d: %w: %w", s.curSeg.id, errNoSpace, err)
	}
	s.curSeg.size += int64(n)
	s.written += int64(n)
	if err != nil {
		err = fmt.Errorf("write segment %d: %w", s.curSeg.id, err)
		s.fail(err)
		return err
	}
	if s.c.Sync == SyncInterval {
		s.notifyLocked()
	}
	return nil
}

// roll seals the current segment and starts the next. Call with wmu held.
func (s *Spool) roll() error {
	id := s.curSeg.id + 1
	f, err := os.OpenFile(segmentPath(s.c.Dir, id), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil && isNoSpace(err) {
		s.noSpaceLocked(err)
		return fmt.Errorf("create segment: %w: %w", errNoSpace, err)
	}
	if err != nil {
		err = fmt.Errorf("create segment: %w", err)
		s.fail(err)
		return err
	}
	s.curSeg.sealed = true
	s.pending = append(s.pending, s.cur)
	s.cur = f
	s.curSeg = &segment{id: id, start: s.written}
	s.segs = append(s.segs, s.curSeg)
	s.dirDirty = true
	s.notifyLocked()
	return nil
}

// notifyLocked wakes waiting readers. Call with mu held.
func (s *Spool) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// syncTo returns once the first target bytes written are fsynced. The
// first caller to find no fsync running runs one for everything written
// so far (the leader); the others wait for it, so the Sends waiting at one
// moment share one fsync.
func (s *Spool) syncTo(ctx context.Context, target int64) error {
	for {
		s.mu.Lock()
		if s.synced >= target && len(s.pending) == 0 && !s.dirDirty {
			s.mu.Unlock()
			return nil
		}
		if s.failErr != nil {
			err := s.failErr
			s.mu.Unlock()
			return err
		}
		if s.syncing {
			done := s.syncDone
			s.mu.Unlock()
			select {
			case <-done:
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		s.syncing = true
		files, cur, upto, dir := s.pending, s.cur, s.written, s.dirDirty
		s.pending, s.dirDirty = nil, false
		s.mu.Unlock()

		start := time.Now()
		err := syncFiles(s.c.Dir, files, cur, dir)
		if s.o.onSync != nil {
			s.o.onSync(time.Since(start))
		}
		s.mu.Lock()
		s.syncing = false
		s.st.fsyncs++
		if err != nil {
			s.fail(fmt.Errorf("fsync: %w", err))
		} else {
			s.synced = max(s.synced, upto)
			if s.c.Sync == SyncBatch {
				s.notifyLocked()
			}
		}
		close(s.syncDone)
		s.syncDone = make(chan struct{})
		s.mu.Unlock()
	}
}

// syncFiles fsyncs and closes the sealed segments, fsyncs the current one
// and, if a segment was created, the directory.
func syncFiles(dir string, sealed []*os.File, cur *os.File, syncDir bool) error {
	for _, f := range sealed {
		err := f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	if cur != nil {
		if err := cur.Sync(); err != nil {
			return err
		}
	}
	if syncDir {
		return syncDirectory(dir)
	}
	return nil
}
