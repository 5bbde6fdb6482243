package spool

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/sluicehq/sluice"
)

// readState is where Recv reads; guarded by Spool.rmu.
type readState struct {
	slab  []byte   // the block records are copied into
	start pos      // where reading resumes, until the first segment is chosen
	seg   *segment // nil until chosen
	f     *os.File
	scan  *scanner
	off   int64
	loss  lossCounter
}

// slabBytes is the size of the blocks Recv copies records into: one
// allocation per block, not per record. A block lives until every record
// in it is garbage.
const slabBytes = 64 << 10

// copyOut returns a copy of p that the spool never modifies.
func (r *readState) copyOut(p []byte) []byte {
	if len(p) > slabBytes/8 {
		return append([]byte(nil), p...)
	}
	if cap(r.slab)-len(r.slab) < len(p) {
		r.slab = make([]byte, 0, slabBytes)
	}
	start := len(r.slab)
	r.slab = append(r.slab, p...)
	return r.slab[start:len(r.slab):len(r.slab)]
}

func (r *readState) close() {
	if r.f != nil {
		r.f.Close()
		r.f, r.scan = nil, nil
	}
}

// Recv returns the next record in order, waiting for one. It is safe for
// concurrent use. The ack function marks the record delivered: the read
// position advances over the contiguous acked records, and a record not
// acked is delivered again after a restart. Damaged records are skipped,
// counted in [Stats] and logged. After Run stops, Recv returns an error
// wrapping sluice.ErrClosed and, if Run failed, the error it failed with;
// an I/O error reading a segment is returned as is.
func (s *Spool) Recv(ctx context.Context) (sluice.Message[[]byte], func(), error) {
	if err := ctx.Err(); err != nil {
		return sluice.Message[[]byte]{}, nil, fmt.Errorf("spool: recv: %w", err)
	}
	if err := s.waitReady(ctx); err != nil {
		return sluice.Message[[]byte]{}, nil, fmt.Errorf("spool: recv: %w", err)
	}
	for {
		s.rmu.Lock()
		v, ack, wait, err := s.next()
		s.rmu.Unlock()
		if err != nil || wait == nil {
			return sluice.Message[[]byte]{Value: v}, ack, err
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return sluice.Message[[]byte]{}, nil, fmt.Errorf("spool: recv: %w", ctx.Err())
		case <-s.done:
			return sluice.Message[[]byte]{}, nil, fmt.Errorf("spool: recv: %w", s.closedErr())
		}
	}
}

// next reads the next valid record, or returns a channel to wait on when
// there is none yet. Call with rmu held.
func (s *Spool) next() (v []byte, ack func(), wait <-chan struct{}, err error) {
	r := &s.rd
	for {
		s.mu.Lock()
		if s.closed {
			err := s.closedErrLocked()
			s.mu.Unlock()
			return nil, nil, nil, fmt.Errorf("spool: recv: %w", err)
		}
		changed := s.changed
		if r.seg == nil {
			r.seg = s.segAtOrAfterLocked(r.start.Seg)
			if r.seg == nil {
				s.mu.Unlock()
				return nil, nil, changed, nil
			}
			if r.seg.id == r.start.Seg {
				r.off = r.start.Off
			}
		}
		g := r.seg
		end, sealed := s.visibleLocked(g), g.sealed
		var nextSeg *segment
		if sealed && r.off >= g.size {
			nextSeg = s.segAfterLocked(g.id)
		}
		s.mu.Unlock()

		if nextSeg != nil {
			r.close()
			r.seg, r.off = nextSeg, 0
			if nextSeg.id == s.firstID {
				// This run's records are numbered after the last valid
				// record recovery saw.
				n, k := r.loss.newRun(s.firstSeq)
				s.countLoss(n, k, s.firstSeq, nextSeg, 0)
			}
			continue
		}
		if r.off >= end {
			return nil, nil, changed, nil
		}
		if r.f == nil {
			f, err := os.Open(segmentPath(s.c.Dir, g.id))
			if errors.Is(err, fs.ErrNotExist) {
				s.o.log.Warn("spool: segment missing", "segment", segmentName(g.id))
				s.mu.Lock()
				s.total -= g.size
				g.size, g.sealed = 0, true // what it held is counted by the sequence gap
				s.mu.Unlock()
				continue
			}
			if err != nil {
				return nil, nil, nil, fmt.Errorf("spool: recv: %w", err)
			}
			r.f, r.scan = f, newScanner(f)
		}
		fr, st, err := r.scan.frameAt(r.off, end, r.loss.lastSeq)
		if err == nil && st != frameOK {
			// Data may have been appended since the read-ahead.
			r.scan.reset()
			fr, st, err = r.scan.frameAt(r.off, end, r.loss.lastSeq)
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("spool: recv: segment %s offset %d: %w", segmentName(g.id), r.off, err)
		}
		if st == frameOK {
			n, k := r.loss.record(fr.seq)
			s.countLoss(n, k, fr.seq, g, r.off)
			r.off = fr.next
			seq := s.tracker.Track(pos{Seg: g.id, Off: fr.next, Seq: fr.seq, At: fr.at})
			return r.copyOut(fr.payload), s.ackFunc(seq), nil, nil
		}
		// A damaged region: skip to the next valid frame, or to the end.
		skipTo, err := r.scan.skip(r.off, end, r.loss.lastSeq)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("spool: recv: segment %s offset %d: %w", segmentName(g.id), r.off, err)
		}
		s.o.log.Error("spool: skipping damaged region", "segment", segmentName(g.id), "offset", r.off, "bytes", skipTo-r.off)
		s.mu.Lock()
		s.st.regions++
		s.st.corruptBytes += skipTo - r.off
		s.mu.Unlock()
		r.off = skipTo
		r.loss.damage()
	}
}

// countLoss counts and logs the n records that r.loss reported lost, of
// kind k, before the record seq at off in g. Call with rmu held.
func (s *Spool) countLoss(n int64, k lossKind, seq uint64, g *segment, off int64) {
	switch k {
	case lossDamage:
		s.o.log.Error("spool: records skipped as corrupt", "records", n, "beforeSeq", seq)
		s.mu.Lock()
		s.st.skipped += n
		s.mu.Unlock()
	case lossMissing:
		s.o.log.Error("spool: records missing", "segment", segmentName(g.id), "offset", off, "records", n)
		s.mu.Lock()
		s.st.skipped += n
		s.st.regions++
		s.mu.Unlock()
	}
}

// lossCounter counts the records lost to damage as a reader meets, in
// order, valid records and damaged regions. Recv and Inspect share it, so
// that Inspect counts what Recv will.
type lossCounter struct {
	lastSeq uint64 // sequence number of the last record read or committed; 0 if unknown
	damaged bool   // a damaged region was met since the last valid record
}

// lossKind says what a loss reported by [lossCounter] is.
type lossKind int

const (
	lossNone    lossKind = iota
	lossDamage           // records in the damaged regions met since the last valid record
	lossMissing          // records missing with no damage met: a missing segment
)

// damage notes a damaged region.
func (c *lossCounter) damage() { c.damaged = true }

// record notes the valid record seq and returns the records lost just
// before it. After damage that is the sequence gap, exact when the last
// valid record is known, and 1 when it is not (damage at the start of a
// spool without a position); without damage, a gap is a missing run.
func (c *lossCounter) record(seq uint64) (int64, lossKind) {
	n, k := int64(0), lossNone
	switch {
	case c.damaged:
		n, k = c.gap(seq, false), lossDamage
	case c.lastSeq != 0 && seq > c.lastSeq+1:
		n, k = int64(seq-c.lastSeq-1), lossMissing
	}
	c.lastSeq, c.damaged = seq, false
	return n, k
}

// newRun notes that the next record is firstSeq, the first of a new run,
// and returns the records lost to damage just before it: as record does,
// but at least 1, because a run numbers its records after the last valid
// one recovery saw, not after the damaged ones.
func (c *lossCounter) newRun(firstSeq uint64) (int64, lossKind) {
	n, k := int64(0), lossNone
	if c.damaged {
		n, k = c.gap(firstSeq, true), lossDamage
	}
	c.lastSeq, c.damaged = firstSeq-1, false
	return n, k
}

func (c *lossCounter) gap(seq uint64, newRun bool) int64 {
	if c.lastSeq == 0 {
		return 1
	}
	n := int64(0)
	if seq > c.lastSeq+1 {
		n = int64(seq - c.lastSeq - 1)
	}
	if newRun {
		n = max(n, 1)
	}
	return n
}

// ackFunc returns the ack of the record tracked as seq.
func (s *Spool) ackFunc(seq uint64) func() {
	return func() {
		if s.tracker.Ack(seq) {
			select {
			case s.advance <- struct{}{}:
			default:
			}
		}
	}
}

// segAfterLocked returns the first segment with an id above id, or nil.
func (s *Spool) segAfterLocked(id uint64) *segment {
	for _, g := range s.segs {
		if g.id > id {
			return g
		}
	}
	return nil
}

// segAtOrAfterLocked returns the first segment with an id at or above id,
// or nil.
func (s *Spool) segAtOrAfterLocked(id uint64) *segment {
	for _, g := range s.segs {
		if g.id >= id {
			return g
		}
	}
	return nil
}

// visibleLocked returns how many bytes of g may be read: with Sync
// "batch", only fsynced bytes.
func (s *Spool) visibleLocked(g *segment) int64 {
	if s.c.Sync == SyncInterval || g.recovered {
		return g.size
	}
	return min(max(s.synced-g.start, 0), g.size)
}

// peekAt returns the write time of the next record to read, if Recv is not
// busy and the record is readable.
func (s *Spool) peekAt() (int64, bool) {
	if !s.rmu.TryLock() {
		return 0, false
	}
	defer s.rmu.Unlock()
	r := &s.rd
	if r.scan == nil || r.seg == nil {
		return 0, false
	}
	s.mu.Lock()
	end := s.visibleLocked(r.seg)
	s.mu.Unlock()
	fr, st, err := r.scan.frameAt(r.off, end, r.loss.lastSeq)
	if err != nil || st != frameOK {
		return 0, false
	}
	return fr.at, true
}
