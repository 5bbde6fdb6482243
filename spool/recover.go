package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/sluicehq/sluice/checkpoint"
	"github.com/sluicehq/sluice/internal/atomicfile"
)

var syncDirectory = atomicfile.SyncDir

// open creates or recovers the directory and starts this run's segment:
//
//   - the directory is locked (see lockDir) for as long as Run runs;
//   - leftover temporary position files are removed;
//   - a missing or damaged position file is logged, and reading starts at
//     the oldest segment;
//   - the newest non-empty segment is scanned: a torn tail, an incomplete
//     frame or zero bytes after the last valid record that no valid frame
//     follows, is truncated and counted in Stats.TornBytes; other damage is
//     left for Recv to skip and count;
//   - writing starts in a new segment, numbered after every segment and
//     the position, with the sequence number after every one seen.
func (s *Spool) open() error {
	dir := s.c.Dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("spool: open: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return err
	}
	if err := s.recoverDir(); err != nil {
		lock.Close()
		return err
	}
	s.lock = lock
	return nil
}

// recoverDir does the work of open once the directory is locked.
func (s *Spool) recoverDir() error {
	dir := s.c.Dir
	tmps, _ := filepath.Glob(filepath.Join(dir, positionFile+atomicfile.TempPattern))
	for _, t := range tmps {
		os.Remove(t)
	}
	segs, err := listSegments(dir)
	if err != nil {
		return fmt.Errorf("spool: open: %w", err)
	}

	p, pok, perr := readPosition(dir)
	switch {
	case perr != nil:
		s.o.log.Warn("spool: position file unusable, replaying from the oldest segment", "dir", dir, "err", perr)
	case !pok && len(segs) > 0:
		s.o.log.Warn("spool: no position file, replaying from the oldest segment", "dir", dir)
	}
	if !pok && perr == nil {
		if err := writePlaceholder(dir); err != nil {
			s.o.log.Warn("spool: cannot write the position file's placeholder", "dir", dir, "err", err)
		}
	}
	lastSeq := p.Seq
	for i := len(segs) - 1; i >= 0; i-- {
		g := segs[i]
		seq, err := s.recoverSegment(g, i == len(segs)-1)
		if err != nil {
			return fmt.Errorf("spool: open: %w", err)
		}
		if seq > 0 {
			lastSeq = max(lastSeq, seq)
			break
		}
	}
	var base uint64
	if len(segs) > 0 {
		base = s.firstValidSeq(segs[0])
	}

	id := p.Seg + 1
	if len(segs) > 0 {
		id = max(id, segs[len(segs)-1].id+1)
	}
	f, err := os.OpenFile(segmentPath(dir, id), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("spool: open: %w", err)
	}
	if err := syncDirectory(dir); err != nil {
		f.Close()
		return fmt.Errorf("spool: open: %w", err)
	}
	cur := &segment{id: id}
	segs = append(segs, cur)

	if pok {
		s.tracker = checkpoint.NewAt(p)
		s.saved = p
	} else {
		s.tracker = checkpoint.New[pos]()
		p = pos{}
	}
	s.rd = readState{start: p, loss: lossCounter{lastSeq: p.Seq}}
	s.nextSeq = lastSeq + 1
	s.mu.Lock()
	defer s.mu.Unlock()
	s.segs, s.cur, s.curSeg = segs, f, cur
	s.firstID, s.firstSeq = id, lastSeq+1
	s.baseSeq = base
	for _, g := range segs {
		s.total += g.size
	}
	s.o.log.Info("spool: opened", "dir", dir, "segments", len(segs), "bytes", s.total, "position", p, "nextSeq", lastSeq+1)
	return nil
}

// listSegments returns the segment files of dir, in id order, with their
// sizes. Other files (the position, the lock) are not segments.
func listSegments(dir string) ([]*segment, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []*segment
	for _, e := range entries {
		id, ok := parseSegmentName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", e.Name(), errVanished) // only beside a live spool
		}
		if err != nil {
			return nil, err
		}
		segs = append(segs, &segment{id: id, size: info.Size(), sealed: true, recovered: true})
	}
	slices.SortFunc(segs, func(a, b *segment) int { return compare(a.id, b.id) })
	return segs, nil
}

func compare(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// recoverSegment scans g and returns the sequence number of its last valid
// record, 0 if it has none. If last, a torn tail is truncated.
func (s *Spool) recoverSegment(g *segment, last bool) (uint64, error) {
	flag := os.O_RDONLY
	if last {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(segmentPath(s.c.Dir, g.id), flag, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	lastSeq, torn, err := recoverScan(newScanner(f), g.size, last)
	if err != nil || torn == g.size {
		return lastSeq, err
	}
	s.o.log.Warn("spool: truncating torn tail", "segment", segmentName(g.id), "offset", torn, "bytes", g.size-torn)
	if err := f.Truncate(torn); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	s.st.tornBytes += g.size - torn
	g.size = torn
	return lastSeq, nil
}

// recoverScan scans a segment of size bytes as recovery does, checking
// each frame against the segment's previous valid one, and returns the
// sequence number of its last valid record (0 if none) and, if tail (the
// segment is the newest), where its torn tail starts: an incomplete frame,
// or zero bytes, after the last valid record that no valid frame follows.
// torn is size if there is no torn tail. Damage elsewhere is left for the
// reader to skip and count; so is a damaged last record, a complete frame
// that fails its checksum.
func recoverScan(sc *scanner, size int64, tail bool) (lastSeq uint64, torn int64, err error) {
	off := int64(0)
	for {
		fr, st, err := sc.frameAt(off, size, lastSeq)
		if err != nil {
			return 0, 0, err
		}
		if st == frameEnd {
			return lastSeq, size, nil
		}
		if st == frameOK {
			off, lastSeq = fr.next, max(lastSeq, fr.seq)
			continue
		}
		to, err := sc.skip(off, size, lastSeq)
		if err != nil {
			return 0, 0, err
		}
		if to < size {
			off = to // damage in the middle: the reader skips and counts it
			continue
		}
		if !tail {
			return lastSeq, size, nil
		}
		zeros, err := allZero(sc, off, size)
		if err != nil {
			return 0, 0, err
		}
		if st != frameShort && !zeros {
			return lastSeq, size, nil // a damaged last record: the reader counts it
		}
		return lastSeq, off, nil
	}
}

// allZero reports whether the bytes from off to end are all zero.
func allZero(sc *scanner, off, end int64) (bool, error) {
	for off < end {
		n := min(end-off, readAhead)
		b, err := sc.bytes(off, int(n), end)
		if err != nil {
			return false, err
		}
		for _, c := range b {
			if c != 0 {
				return false, nil
			}
		}
		off += n
	}
	return true, nil
}

// firstValidSeq returns the sequence number before g's first record, for
// Stats.Records; 0 if g starts damaged.
func (s *Spool) firstValidSeq(g *segment) uint64 {
	f, err := os.Open(segmentPath(s.c.Dir, g.id))
	if err != nil {
		return 0
	}
	defer f.Close()
	fr, st, err := newScanner(f).frameAt(0, g.size, 0)
	if err != nil || st != frameOK {
		return 0
	}
	return fr.seq - 1
}
