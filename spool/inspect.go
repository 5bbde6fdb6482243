package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// Report describes a spool directory, as [Inspect] found it.
type Report struct {
	Dir      string
	Segments []SegmentReport // in order
	Bytes    int64           // bytes of all segment files
	Records  int64           // valid records in all segments
	// Unacked counts the valid records past the persisted position: the
	// records a Spool would deliver.
	Unacked int64
	// Position is the persisted position's sequence number: every record
	// up to it was acked. 0 if there is none.
	Position uint64
	// PositionOK is false if the position file is missing or unreadable;
	// then every record counts as unacked.
	PositionOK bool
	// OldestUnacked is the write time of the oldest unacked record; zero
	// if there is none.
	OldestUnacked time.Time
	// Damage lists, in order, every damaged region and every gap in
	// sequence numbers (a missing segment).
	Damage []Damage
	// Skipped counts the records lost to the damage past the position,
	// exactly as [Stats].Skipped will once a Spool has recovered the
	// directory and read every record; it is the sum of the Records of the
	// Damage not Acked.
	Skipped int64
	// TornBytes counts the bytes of an incomplete tail of the newest
	// segment, which recovery truncates: a write that never completed (or,
	// beside a running Spool, one in progress), not damage.
	TornBytes int64
}

// SegmentReport describes one segment file.
type SegmentReport struct {
	Name                  string
	Bytes                 int64 // size of the file
	Records               int64 // valid records
	FirstSeq, LastSeq     uint64
	FirstWrite, LastWrite time.Time
}

// Damage is a damaged region of a segment, or a gap in sequence numbers.
type Damage struct {
	Segment string // file name
	Offset  int64  // where the region starts; for a gap, where the record after it starts
	Bytes   int64  // 0 for a gap
	// Records counts the records lost here, exact when a valid record
	// follows. When several damaged regions follow one another with no
	// valid record between them, the first counts the records lost in all.
	Records int64
	Reason  string
	// Acked is true for damage before the persisted position, which a
	// Spool never reads again: it is not counted in Report.Skipped.
	Acked bool
}

// Reasons of [Damage].
const (
	reasonBad     = "bad frame: checksum, length or sequence number"
	reasonShort   = "incomplete frame"
	reasonMissing = "records missing: segment deleted or lost"
)

// errVanished means a segment was deleted while Inspect read the
// directory: a running Spool deleted it once it was acked.
var errVanished = errors.New("segment deleted")

// Inspect reads the spool in dir without changing anything and without the
// lock, so it may run beside a live spool (whose newest segment may then end in
// a record being written: reported as a torn tail, not damage).
// If visit is non-nil it is called with the payload of every valid record not yet acked
// (sequence number past the persisted position), in order; the payload is only valid during the call.
//
// Inspect reads the directory as a Spool's Run and Recv would, with the
// same code, so its counts agree with the [Stats] of a Spool that recovers
// dir and reads every record. Beside a running Spool that deletes acked
// segments meanwhile, Inspect reads the directory again, from the newer
// position, and calls visit only for records past those it already
// visited.
func Inspect(dir string, visit func(seq uint64, written time.Time, payload []byte)) (Report, error) {
	var visited uint64
	for range 10 {
		rep, err := inspect(dir, visit, &visited)
		if !errors.Is(err, errVanished) {
			return rep, err
		}
	}
	return Report{Dir: dir}, fmt.Errorf("spool: inspect %s: segments keep being deleted", dir)
}

// inspect reads dir once. visit is called only for records past visited,
// which it advances.
func inspect(dir string, visit func(uint64, time.Time, []byte), visited *uint64) (Report, error) {
	rep := Report{Dir: dir}
	segs, err := listSegments(dir)
	if errors.Is(err, errVanished) {
		return rep, err
	}
	if err != nil {
		return rep, fmt.Errorf("spool: inspect: %w", err)
	}
	p, pok, _ := readPosition(dir)
	if !pok {
		p = pos{}
	}
	rep.Position, rep.PositionOK = p.Seq, pok

	// As recovery: the newest segment's torn tail, and the number of the
	// last valid record, after which a new run numbers its records.
	runLast, torn := p.Seq, int64(0)
	for i := len(segs) - 1; i >= 0; i-- {
		g, last := segs[i], i == len(segs)-1
		var seq uint64
		err := withSegment(dir, g, last, func(sc *scanner) error {
			var t int64
			var err error
			seq, t, err = recoverScan(sc, g.size, last)
			if last {
				torn = t
			}
			return err
		})
		if err != nil {
			return rep, err
		}
		if seq > 0 {
			runLast = max(runLast, seq)
			break
		}
	}

	// As Recv: a lossCounter per part, before the position (acked) and
	// past it.
	var acked, live lossCounter
	started := false  // reading past the position
	var pending []int // indexes in rep.Damage of damage awaiting its count
	for i, g := range segs {
		end := g.size
		if i == len(segs)-1 {
			end = torn
			rep.TornBytes = g.size - torn
		}
		sr := SegmentReport{Name: segmentName(g.id), Bytes: g.size}
		rep.Bytes += g.size
		onRecord := func(fr frame, lost int64, k lossKind, unacked bool) {
			sr.Records++
			if sr.FirstSeq == 0 {
				sr.FirstSeq, sr.FirstWrite = fr.seq, time.Unix(0, fr.at)
			}
			sr.LastSeq, sr.LastWrite = fr.seq, time.Unix(0, fr.at)
			rep.addLoss(&pending, lost, k, sr.Name, fr.off, !unacked)
			if !unacked {
				return
			}
			if rep.Unacked == 0 {
				rep.OldestUnacked = time.Unix(0, fr.at)
			}
			rep.Unacked++
			if visit != nil && fr.seq > *visited {
				visit(fr.seq, time.Unix(0, fr.at), fr.payload)
				*visited = fr.seq
			}
		}
		err := withSegment(dir, g, false, func(sc *scanner) error {
			off := int64(0)
			if g.id <= p.Seg {
				off = min(end, p.Off)
				if g.id < p.Seg {
					off = end
				}
				if err := rep.walk(sc, g, 0, off, &acked, &pending, false, onRecord); err != nil {
					return err
				}
			}
			if g.id < p.Seg {
				return nil
			}
			if !started {
				started = true
				live = lossCounter{lastSeq: p.Seq}
				pending = nil // acked damage resolved by no record past it
			}
			return rep.walk(sc, g, off, end, &live, &pending, true, onRecord)
		})
		if err != nil {
			return rep, err
		}
		rep.Segments = append(rep.Segments, sr)
		rep.Records += sr.Records
	}
	if started {
		n, k := live.newRun(runLast + 1)
		rep.addLoss(&pending, n, k, "", 0, false)
	}
	return rep, nil
}

// withSegment opens g and calls f with a scanner over it. If stat, g.size
// is set to the file's size now (the newest segment may be growing).
func withSegment(dir string, g *segment, stat bool, f func(*scanner) error) error {
	file, err := os.Open(segmentPath(dir, g.id))
	if errors.Is(err, fs.ErrNotExist) {
		return errVanished
	}
	if err != nil {
		return fmt.Errorf("spool: inspect: %w", err)
	}
	defer file.Close()
	if stat {
		info, err := file.Stat()
		if err != nil {
			return fmt.Errorf("spool: inspect: %w", err)
		}
		g.size = info.Size()
	}
	if err := f(newScanner(file)); err != nil {
		return fmt.Errorf("spool: inspect: segment %s: %w", segmentName(g.id), err)
	}
	return nil
}

// walk reads the frames of g from off to end as Recv does, counting with
// lc, and calls onRecord for each valid record.
func (rep *Report) walk(sc *scanner, g *segment, off, end int64, lc *lossCounter, pending *[]int, unacked bool,
	onRecord func(fr frame, lost int64, k lossKind, unacked bool)) error {
	for {
		fr, st, err := sc.frameAt(off, end, lc.lastSeq)
		if err != nil {
			return err
		}
		switch st {
		case frameEnd:
			return nil
		case frameOK:
			n, k := lc.record(fr.seq)
			onRecord(fr, n, k, unacked)
			off = fr.next
			continue
		}
		to, err := sc.skip(off, end, lc.lastSeq)
		if err != nil {
			return err
		}
		reason := reasonBad
		if st == frameShort {
			reason = reasonShort
		}
		*pending = append(*pending, len(rep.Damage))
		rep.Damage = append(rep.Damage, Damage{Segment: segmentName(g.id), Offset: off, Bytes: to - off, Reason: reason, Acked: !unacked})
		lc.damage()
		off = to
	}
}

// addLoss records n records lost, of kind k, before the record at off in
// segment seg.
func (rep *Report) addLoss(pending *[]int, n int64, k lossKind, seg string, off int64, acked bool) {
	switch k {
	case lossDamage:
		if len(*pending) > 0 {
			rep.Damage[(*pending)[0]].Records = n
		}
	case lossMissing:
		rep.Damage = append(rep.Damage, Damage{Segment: seg, Offset: off, Records: n, Reason: reasonMissing, Acked: acked})
	default:
		return
	}
	*pending = (*pending)[:0]
	if !acked {
		rep.Skipped += n
	}
}
