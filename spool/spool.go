// Package spool is a durable on-disk queue of []byte records: a
// [sluice.Destination] that acks a Send once its records are fsynced, and a
// [sluice.Source] that replays, after a restart, only the records that were
// not acked.
//
// Records are appended to segment files (see the format in segment.go's
// comment: length, CRC-32C, sequence number, write time, payload). Sends
// waiting at the same moment share one fsync (group commit). Acks of
// received records feed a checkpoint.Tracker; its contiguous low-watermark
// is the read position, persisted atomically at an interval, on stop and
// before any segment is deleted. A segment is deleted once every record in
// it is acked.
//
// On Run the spool recovers: a torn tail of the newest segment (an
// incomplete frame, or zero bytes, after the last valid record) is
// truncated; a damaged region elsewhere is skipped when read, and counted
// (see [Stats]). The spool never appends to a segment of an earlier run.
// A running Spool locks its directory, so that no second one uses it.
//
// A full file system (ENOSPC, or a quota) stops nothing: a failed write is
// undone and Sends wait for space, while Recv goes on (see nospace.go).
//
// [Inspect] reads a spool directory without changing it, even beside a
// running Spool: what it holds, what is not yet acked, and what is damaged.
package spool

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/checkpoint"
)

// Spool is a durable queue over a directory. Send and Recv are safe for
// concurrent use; both wait until Run has opened the directory. Create one
// with [New] and run it with Run.
type Spool struct {
	// Lock order: rmu or wmu, then ckMu, then mu.
	c    Config
	o    options
	lock *os.File // the directory's lock, held while Run runs

	running atomic.Bool
	ready   chan struct{} // closed when Run has opened the spool or failed to
	openErr error         // set before ready is closed
	done    chan struct{} // closed when Run stops
	advance chan struct{} // capacity 1: the committed position moved

	wmu     sync.Mutex // writers: file writes and rolls
	wbuf    []byte     // frames of one Send; guarded by wmu
	nextSeq uint64     // guarded by wmu

	rmu sync.Mutex // readers
	rd  readState  // guarded by rmu

	tracker *checkpoint.Tracker[pos]
	ckMu    sync.Mutex
	saved   pos // last position written; guarded by ckMu
	// posFailing: the last position write failed; guarded by ckMu.
	posFailing bool

	mu       sync.Mutex
	segs     []*segment // in id order
	cur      *os.File   // the segment being written
	curSeg   *segment
	pending  []*os.File // sealed segments awaiting fsync and close
	dirDirty bool       // a segment was created since the last fsync
	written  int64      // bytes written by this run, over all segments
	synced   int64      // bytes of written known to be fsynced
	syncing  bool
	syncDone chan struct{} // closed when the running fsync ends
	failErr  error         // sticky write or fsync error
	failed   chan struct{} // closed when failErr is set
	stopErr  error         // the error Run stopped for, set with closed
	changed  chan struct{} // closed and replaced when records become readable
	room     chan struct{} // closed and replaced when segments are deleted
	total    int64         // bytes on disk and reserved
	closed   bool
	firstID  uint64 // first segment of this run
	firstSeq uint64 // its first sequence number
	baseSeq  uint64 // sequence number before the oldest record on disk
	st       counters
	waiting  int // Sends waiting for room or for space
	// noSpaceSince is when writes began to fail for lack of space on the
	// file system; zero while they do not.
	noSpaceSince time.Time
	// droppedLogged is when dropped records were last logged.
	droppedLogged time.Time
}

// segment is one segment file.
type segment struct {
	id        uint64
	size      int64
	start     int64 // value of written when the segment was created
	sealed    bool  // no more writes: a later segment exists
	recovered bool  // from an earlier run: all of it is readable
}

type counters struct {
	skipped, regions, corruptBytes, tornBytes, dropped, fsyncs int64
	noSpaceWrites, positionErrors                              int64
}

// Stats is a snapshot of a spool's state and counters.
type Stats struct {
	Segments int   // segment files
	Bytes    int64 // bytes in segment files
	// Records is the number of records written and not yet acked; after
	// records were skipped as corrupt or when no position was stored, it
	// may count those too.
	Records int64
	// OldestUnacked is the write time of the oldest record not yet acked:
	// the oldest received and not acked or, if none is, the next to be
	// received once Recv has opened its segment; zero if there is none or
	// Recv is busy at that moment.
	OldestUnacked time.Time
	// Skipped counts records lost to damage, exactly when a valid record
	// follows the damage: the gap between the sequence numbers of the valid
	// records around each damaged region or missing segment. A damaged
	// region that no valid record follows counts 1.
	Skipped int64
	// CorruptRegions counts damaged regions and missing runs of records;
	// CorruptBytes the bytes of the damaged regions.
	CorruptRegions, CorruptBytes int64
	// TornBytes counts bytes of torn tails truncated at recovery: writes
	// never completed, hence never acked, not counted in Skipped.
	TornBytes int64
	// InFlight is the number of records received and not yet committed:
	// not acked, or acked after one that is not. Records - InFlight is
	// about the number not yet received (exactly, without damage).
	InFlight int64
	// Waiting is the number of Sends waiting for room: the spool is full
	// (WhenFull "block"), or its file system is (NoSpace), and it holds
	// its writers back.
	Waiting int
	// NoSpace reports that the spool's file system is full (ENOSPC or a
	// quota): the last write failed for lack of space and none succeeded
	// since. Failed writes are undone and tried again until space is
	// freed, while the spool goes on delivering what it holds.
	NoSpace bool
	// NoSpaceWrites counts the writes that failed for lack of space.
	NoSpaceWrites int64
	// PositionErrors counts failed writes of the read position file; a
	// position not saved only causes redelivery after a restart.
	PositionErrors int64
	// Dropped counts records dropped by WhenFull "dropNewest".
	Dropped int64
	// Fsyncs counts group-commit fsyncs.
	Fsyncs int64
}

// New returns a Spool for c. It checks c and does no I/O: Run opens and
// recovers the directory.
func New(c Config, opts ...Option) (*Spool, error) {
	c.setDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	o := options{log: slog.New(slog.DiscardHandler), now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return &Spool{
		c: c, o: o,
		ready:    make(chan struct{}),
		done:     make(chan struct{}),
		advance:  make(chan struct{}, 1),
		syncDone: make(chan struct{}),
		failed:   make(chan struct{}),
		changed:  make(chan struct{}),
		room:     make(chan struct{}),
	}, nil
}

// Run opens and recovers the directory, then fsyncs (Sync "interval"),
// persists the read position and deletes acked segments until ctx is
// done. On stop it fsyncs what was written, so pending Sends are acked,
// and persists the position; Send and Recv then return sluice.ErrClosed,
// wrapped with the error Run failed with, if it did.
// A second call returns sluice.ErrAlreadyRunning. A full file system is
// not an error: writers wait for space (see nospace.go). Any other write
// error, and any fsync error, is fatal: Run returns it (after an fsync
// error nothing written since the last good fsync may be trusted; the
// next run recovers from disk).
func (s *Spool) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return sluice.ErrAlreadyRunning
	}
	if err := s.open(); err != nil {
		s.openErr = err
		close(s.ready)
		s.mu.Lock()
		s.closed = true
		close(s.done)
		s.mu.Unlock()
		return err
	}
	close(s.ready)
	var syncC <-chan time.Time
	if s.c.Sync == SyncInterval {
		t := time.NewTicker(s.c.SyncInterval)
		defer t.Stop()
		syncC = t.C
	}
	ck := time.NewTicker(s.c.CheckpointInterval)
	defer ck.Stop()
	var err error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-s.failed:
			break loop
		case <-syncC:
			s.syncAll()
		case <-s.advance:
			err = s.collect()
		case <-ck.C:
			if err = s.checkpoint(); err == nil {
				err = s.collect() // what an earlier position error held back
			}
		}
		if err != nil && isNoSpace(err) {
			err = nil // logged and counted; tried again at the next tick
		}
		if err != nil {
			break loop
		}
	}
	if serr := s.shutdown(err); err == nil {
		err = serr
	}
	return err
}

// Ready returns a channel closed once Run has opened and recovered the
// directory, or failed to. Send and Recv wait for it.
func (s *Spool) Ready() <-chan struct{} { return s.ready }

// syncAll fsyncs everything written so far.
func (s *Spool) syncAll() {
	s.mu.Lock()
	w := s.written
	s.mu.Unlock()
	_ = s.syncTo(context.Background(), w) // an error is sticky and stops Run
}

// shutdown stops the spool: no more Sends or Recvs, a final fsync, files
// closed, the position persisted. cause is the error Run stops for, nil on
// a stop by ctx: the Sends and Recvs refused from then on say it.
func (s *Spool) shutdown(cause error) error {
	s.mu.Lock()
	s.stopErr = cause
	s.closed = true
	close(s.done)
	s.mu.Unlock()

	s.wmu.Lock()
	s.syncAll()
	s.mu.Lock()
	for _, f := range s.pending {
		f.Close()
	}
	if s.cur != nil {
		s.cur.Close()
	}
	s.pending, s.cur = nil, nil
	err := s.failErr
	s.mu.Unlock()
	s.wmu.Unlock()

	s.rmu.Lock()
	s.rd.close()
	s.rmu.Unlock()
	if cerr := s.checkpoint(); err == nil && !isNoSpace(cerr) {
		err = cerr // no space: logged; the next run redelivers
	}
	s.lock.Close() // after the last write: the next Spool may start
	return err
}

// closedErrLocked is the error of a Send or Recv refused because Run
// stopped: sluice.ErrClosed, with the failure that stopped it, if any, so
// that a caller that reports the first error it sees reports the cause.
// Call with mu held.
func (s *Spool) closedErrLocked() error {
	cause := s.failErr
	if cause == nil {
		cause = s.stopErr
	}
	if cause == nil {
		return sluice.ErrClosed
	}
	return fmt.Errorf("%w: %w", sluice.ErrClosed, cause)
}

// closedErr is closedErrLocked for a caller without mu.
func (s *Spool) closedErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closedErrLocked()
}

// fail records a fatal write or fsync error. Call with mu held.
func (s *Spool) fail(err error) {
	if s.failErr == nil {
		s.failErr = err
		close(s.failed)
	}
}

// waitReady waits until Run has opened the spool.
func (s *Spool) waitReady(ctx context.Context) error {
	select {
	case <-s.ready:
	default:
		select {
		case <-s.ready:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.openErr != nil {
		return fmt.Errorf("%w: %w", sluice.ErrClosed, s.openErr)
	}
	return nil
}

// collect deletes the segments whose records are all acked, after
// persisting the position that is past them, and wakes blocked Sends.
func (s *Spool) collect() error {
	p, ok := s.tracker.Committed()
	if !ok {
		return nil
	}
	s.mu.Lock()
	var del []*segment
	for _, g := range s.segs {
		if g.sealed && (g.id < p.Seg || g.id == p.Seg && p.Off >= g.size) {
			del = append(del, g)
		}
	}
	s.mu.Unlock()
	if len(del) == 0 {
		return nil
	}
	if err := s.checkpoint(); err != nil {
		return err
	}
	for _, g := range del {
		if err := os.Remove(segmentPath(s.c.Dir, g.id)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("spool: delete segment: %w", err)
		}
	}
	s.mu.Lock()
	for _, g := range del {
		s.segs = slices.DeleteFunc(s.segs, func(x *segment) bool { return x == g })
		s.total -= g.size
	}
	close(s.room)
	s.room = make(chan struct{})
	s.mu.Unlock()
	return nil
}

// Stats returns a snapshot of the spool's state and counters.
func (s *Spool) Stats() Stats {
	select {
	case <-s.ready:
	default:
		return Stats{}
	}
	p, pok := s.tracker.Committed()
	s.mu.Lock()
	st := Stats{
		Segments:       len(s.segs),
		Skipped:        s.st.skipped,
		CorruptRegions: s.st.regions,
		CorruptBytes:   s.st.corruptBytes,
		TornBytes:      s.st.tornBytes,
		Dropped:        s.st.dropped,
		Fsyncs:         s.st.fsyncs,
		Waiting:        s.waiting,
		NoSpace:        !s.noSpaceSince.IsZero(),
		NoSpaceWrites:  s.st.noSpaceWrites,
		PositionErrors: s.st.positionErrors,
	}
	for _, g := range s.segs {
		st.Bytes += g.size
	}
	var last uint64
	base := s.baseSeq
	s.mu.Unlock()
	s.wmu.Lock()
	if s.nextSeq > 0 {
		last = s.nextSeq - 1
	}
	s.wmu.Unlock()
	if pok {
		base = max(base, p.Seq)
	}
	if last > base {
		st.Records = int64(last - base)
	}
	st.InFlight = int64(s.tracker.Pending())
	if o, ok := s.tracker.Oldest(); ok {
		st.OldestUnacked = time.Unix(0, o.At)
	} else if at, ok := s.peekAt(); ok {
		st.OldestUnacked = time.Unix(0, at)
	}
	return st
}

var (
	_ sluice.Source[[]byte]      = (*Spool)(nil)
	_ sluice.Destination[[]byte] = (*Spool)(nil)
	_ sluice.Runner              = (*Spool)(nil)
)
