package file

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/checkpoint"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/defaults"
)

// Source tails files: the "file" source. It is a [sluice.Runner]: Run
// scans and reads the files until its ctx is done; Recv returns one event
// per line. Recv is safe for concurrent use.
//
// # Events
//
// Each line becomes an event whose Raw is the line without its newline
// ("\r" is kept), File.Path the file's path when it was read, and
// File.Offset where the line starts. A line longer than MaxLineBytes is cut
// into pieces of that size; every piece but the last is flagged "split",
// and each piece's offset is where the piece starts. An incomplete last
// line (no newline yet) is held until its newline arrives; if the file is
// rotated away or deleted and stays unchanged for the orphan grace period
// (4 poll intervals, at least 1s), the incomplete line is emitted as it
// is, unflagged. When the source stops, an incomplete line is not emitted:
// it is read again, whole, after a restart. With Multiline, lines are
// joined as [MultilineConfig] says; the event's offset is that of its
// first line.
//
// # Identity
//
// A file is identified by the SHA-256 of its first FingerprintBytes bytes,
// not by its path or inode, so a checkpoint follows a file that is renamed
// or copied while sluiced is down. The rules:
//
//   - An empty file has no identity and is read from offset 0 once it has
//     content.
//   - A file shorter than FingerprintBytes is identified by the hash of
//     what it has; as it grows, its identity is upgraded, up to
//     FingerprintBytes. Because a short prefix is weak evidence, a stored
//     checkpoint with a short fingerprint is matched only by a file with
//     the same prefix and the same device and inode.
//   - While a file is open, the source follows it by its descriptor: a
//     file renamed within the globs keeps its state and gets its new path.
//   - A new file whose full fingerprint equals that of a file being read is
//     a copy of it (as logrotate's copytruncate makes) and is not read,
//     unless the original is truncated: then the copy takes over the old
//     identity and its checkpoint, and is read from there to its end.
//
// # Rotation
//
//   - Rename and create: the renamed file is read through its descriptor
//     until it has stayed unchanged at its end for the orphan grace
//     period, then closed. The new file at the path is found by the next
//     scan and read from its beginning.
//   - Copytruncate: when a file is shorter than the offset read so far,
//     or its first bytes changed, it was truncated: it is read again from
//     offset 0 under a new identity. The first bytes are checked after
//     every read, so a file truncated and written again past the offset
//     between two reads is not taken for the rest of the old one. Lines
//     written after the last read and before the truncation are only read
//     if the copy matches the globs.
//
// The globs are matched every PollInterval: a file created and renamed
// out of them before a scan has seen it is not read.
//   - A file deleted while read is read through its descriptor to its end,
//     then dropped, with its checkpoint once its events are acked.
//   - A checkpoint no file matches (the file was deleted, or is being
//     renamed or copied into the globs, as at a restart in the middle of
//     a rotation) is kept until no scan has matched it for the orphan
//     grace period, so that a file that appears meanwhile resumes from it
//     rather than being read again from its start.
//
// # Checkpoints
//
// Each identity has a [checkpoint.Tracker] of line end offsets, and each
// event's ack is the tracker's ack for its line. The committed offset of
// an identity is the end of the longest prefix of acknowledged lines.
// The committed offsets of every identity are written to
// StateDir/checkpoints.json every CheckpointInterval and when Run returns,
// atomically (a temporary file, fsync, rename, fsync of the directory).
// After a restart each file is read from its committed offset, so nothing
// unacknowledged is lost, and what is read again is at most what was
// acknowledged since the last write began (one CheckpointInterval while
// writes are quick) plus what was in flight.
//
// A new identity (a file found, a file given content, a file truncated)
// is written to the checkpoint file, with the offset it starts at, before
// any of its lines is handed on. StartAt applies only to the files found
// by the first scan of a Run that found no checkpoint file: once one
// exists, a file it does not know is new (created while sluiced ran, or
// while it was stopped, such as the new file of a rotation) and is read
// from its beginning.
//
// While the checkpoint file cannot be written (a read-only or full file
// system), each failed write is counted ("checkpoint" errors), logged when
// the failure starts or changes and when it ends, and [Source.Health]
// reports it; files already known are read on, new files wait until a
// write succeeds. Writes are tried again every CheckpointInterval.
//
// When Run's ctx is done, it stops reading, lets Recv drain what is
// queued, and waits for outstanding acks (up to 5s, see
// [WithAckWait]) before it writes the checkpoint a last time. Acks that
// arrive after Run has returned are not written: those lines are
// delivered again after a restart (duplicates, never loss).
type Source struct {
	cfg     SourceConfig
	name    string
	log     *slog.Logger
	ackWait time.Duration
	start   *regexp.Regexp // multiline start pattern, or nil

	// The reader hands lines over in batches of up to handOff: one
	// channel send per batch, not per line. recv is held by the one
	// receiver taking from cur[at:], the rest of the batch being handed
	// out; queued counts the lines in items and cur.
	items   chan []item
	free    chan []item // drained batches, for the reader to fill again
	recv    chan struct{}
	cur     []item
	at      int
	queued  atomic.Int64
	running atomic.Bool

	count Counters

	persistMu sync.Mutex // serialises checkpoint writes: an older one never replaces a newer one

	mu         sync.Mutex  // guards ids, the identities' fields and the fields below
	ids        []*identity // every identity with a checkpoint
	ckErr      error       // of the latest checkpoint write
	ckFailedAt time.Time   // when it failed
	ckFailures int         // writes failed in a row
}

// Counters receives the source's counts; the daemon's metrics implement
// it. Methods must be safe for concurrent use.
type Counters interface {
	// Error counts an error of cause "checkpoint": a failed write of the
	// checkpoint file.
	Error(cause string)
}

type nopCounters struct{}

func (nopCounters) Error(string) {}

type item struct {
	ev  event.Event
	ack func()
}

// handOff is the largest batch of lines the reader hands over at once.
const handOff = sluice.RecvBatchSize

// queueBatches bounds the batches waiting in Source.items: with handOff,
// 4096 lines.
const queueBatches = 16

// identity is one file's content, as its fingerprint names it, and its
// checkpoint.
type identity struct {
	fp       string // hex SHA-256 of the first fpLen bytes
	fpLen    int
	path     string
	dev, ino uint64
	tr       *checkpoint.Tracker[int64]
	durable  atomic.Bool // in the checkpoint file: its lines may be handed on
	tail     *tailer     // the open file with this identity, or nil
	matched  bool        // found by the latest scan (so kept)
	// unseen is when a scan first found no file for this identity, while
	// it has no open file; it is dropped once that lasts the grace period.
	unseen time.Time
	// next is where to go on reading a copy of this file, for an identity
	// that was read in this run and left when its file was truncated; 0
	// means from the committed offset.
	next int64
}

// SourceOption configures a Source.
type SourceOption func(*Source)

// WithSourceLogger sets the logger. Default: discard.
func WithSourceLogger(l *slog.Logger) SourceOption { return func(s *Source) { s.log = l } }

// WithSourceCounters sets where counts go (see [Counters]). Default:
// nowhere.
func WithSourceCounters(c Counters) SourceOption { return func(s *Source) { s.count = c } }

// WithAckWait sets how long Run waits, once its ctx is done and the queue
// is drained, for the acks of events already received, before it writes
// the last checkpoint. Default 5s.
func WithAckWait(d time.Duration) SourceOption { return func(s *Source) { s.ackWait = d } }

// NewSource returns a Source named name (the name its events carry). Zero
// fields of c take the defaults of [DefaultSourceConfig]; StateDir is
// required. It does no I/O.
func NewSource(c SourceConfig, name string, opts ...SourceOption) (*Source, error) {
	defaults.Fill(&c, DefaultSourceConfig())
	c.Paths, c.Exclude = slices.Clone(c.Paths), slices.Clone(c.Exclude)
	if c.Multiline != nil {
		m := *c.Multiline
		if m.Timeout == 0 {
			m.Timeout = time.Second
		}
		c.Multiline = &m
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("file source: %w", err)
	}
	if err := config.Required("file source", config.Field{Path: "stateDir", Empty: c.StateDir == ""}); err != nil {
		return nil, err
	}
	s := &Source{cfg: c, name: name, log: slog.New(slog.DiscardHandler), count: nopCounters{},
		ackWait: 5 * time.Second, items: make(chan []item, queueBatches), free: make(chan []item, queueBatches+2),
		recv: make(chan struct{}, 1)}
	if c.Multiline != nil {
		s.start = regexp.MustCompile(c.Multiline.StartPattern) // checked by Validate
	}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Recv returns the next line as an event, blocking until there is one.
// Its ack commits the line's offset once every line before it in the file
// was acked too. After Run has returned, Recv returns what is left, then
// io.EOF.
func (s *Source) Recv(ctx context.Context) (sluice.Message[event.Event], func(), error) {
	var m [1]sluice.Message[event.Event]
	var ack [1]func()
	if _, err := s.RecvBatch(ctx, m[:], ack[:]); err != nil {
		return sluice.Message[event.Event]{}, nil, err
	}
	return m[0], ack[0], nil
}

// RecvBatch is Recv for up to len(msgs) lines at once (a
// [sluice.BatchSource]): it blocks as Recv does for the first, then takes
// the lines already queued. It returns io.EOF only with no line.
func (s *Source) RecvBatch(ctx context.Context, msgs []sluice.Message[event.Event], acks []func()) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("file source: %w", err)
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	// One receiver at a time takes from cur; the others wait here, each
	// as long as its ctx allows.
	select {
	case s.recv <- struct{}{}:
	case <-ctx.Done():
		return 0, fmt.Errorf("file source: %w", ctx.Err())
	}
	defer func() { <-s.recv }()
	if s.cur == nil {
		select {
		case b, ok := <-s.items:
			if !ok {
				return 0, io.EOF
			}
			s.cur, s.at = b, 0
		case <-ctx.Done():
			return 0, fmt.Errorf("file source: %w", ctx.Err())
		}
	}
	n := 0
	for {
		k := min(len(msgs)-n, len(s.cur)-s.at)
		for i := range k {
			it := &s.cur[s.at+i]
			msgs[n+i], acks[n+i] = sluice.Message[event.Event]{Value: it.ev}, it.ack
		}
		n += k
		if s.at += k; s.at == len(s.cur) {
			s.recycle()
		}
		if n == len(msgs) {
			break
		}
		b, ok := s.next()
		if !ok {
			break
		}
		s.cur, s.at = b, 0
	}
	s.queued.Add(-int64(n))
	return n, nil
}

// next returns the next batch if one is queued.
func (s *Source) next() ([]item, bool) {
	select {
	case b, ok := <-s.items:
		return b, ok
	default:
		return nil, false
	}
}

// recycle gives the drained batch cur back to the reader, its lines
// let go of.
func (s *Source) recycle() {
	b := s.cur
	s.cur, s.at = nil, 0
	for i := range b {
		b[i].ev.Raw, b[i].ack = nil, nil
	}
	select {
	case s.free <- b[:0]:
	default:
	}
}

// Run reads the checkpoint file, then scans and reads files until ctx is
// done; see [Source] for how it stops. A second call returns
// [sluice.ErrAlreadyRunning].
func (s *Source) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return sluice.ErrAlreadyRunning
	}
	if err := os.MkdirAll(s.cfg.StateDir, 0o755); err != nil {
		close(s.items)
		return fmt.Errorf("file source: %w", err)
	}
	st, found, err := loadState(s.cfg.StateDir)
	if err != nil {
		close(s.items)
		return fmt.Errorf("file source: state: %w", err)
	}
	for _, e := range st.Files {
		id := &identity{fp: e.Fingerprint, fpLen: e.FingerprintLen, path: e.Path,
			dev: e.Dev, ino: e.Ino, tr: checkpoint.NewAt(e.Offset)}
		id.durable.Store(true)
		s.ids = append(s.ids, id)
	}
	r := &reader{s: s, buf: make([]byte, 64<<10), grace: max(4*s.cfg.PollInterval, time.Second), fresh: !found}

	// The first scan decides where files without a checkpoint start
	// (StartAt, if there was no checkpoint file); its checkpoint is
	// written at once. If that fails, the files wait for a write that
	// succeeds (see reader.recorded).
	r.now = time.Now()
	r.scan(true)
	_ = s.persist() // counted and logged
	pctx, stopPersist := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { s.persistLoop(pctx) })

	r.loop(ctx)

	stopPersist()
	wg.Wait()
	close(s.items)
	s.awaitAcks(r.unqueued())
	err = s.persist()
	for _, t := range r.tails {
		t.f.Close()
	}
	if err != nil {
		return fmt.Errorf("file source: checkpoint: %w", err)
	}
	return nil
}

// awaitAcks waits, up to the ack wait, until every event handed out was
// acked. stuck counts, per identity, the events that Run tracked but did
// not queue because it was stopping.
func (s *Source) awaitAcks(stuck map[*identity]int) {
	deadline := time.Now().Add(s.ackWait)
	for {
		done := s.queued.Load() == 0
		s.mu.Lock()
		for _, id := range s.ids {
			if id.tr.Pending()-stuck[id] > 0 {
				done = false
			}
		}
		s.mu.Unlock()
		if done || !time.Now().Before(deadline) {
			return
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
}

func (s *Source) persistLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = s.persist() // counted and logged
		}
	}
}

// persist writes the committed offset of every identity and marks them
// durable. A failure is counted, logged when it starts or changes, and
// kept for Health until a write succeeds.
func (s *Source) persist() error {
	s.persistMu.Lock()
	defer s.persistMu.Unlock()
	s.mu.Lock()
	ids := slices.Clone(s.ids)
	st := state{Version: 1, Files: make([]stateEntry, 0, len(ids))}
	for _, id := range ids {
		off, _ := id.tr.Committed()
		st.Files = append(st.Files, stateEntry{Fingerprint: id.fp, FingerprintLen: id.fpLen, Offset: off,
			Path: id.path, Dev: id.dev, Ino: id.ino})
	}
	s.mu.Unlock()
	err := saveState(s.cfg.StateDir, st)

	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.ckErr
	s.ckErr = err
	if err != nil {
		s.ckFailedAt = time.Now()
		s.ckFailures++
		s.count.Error("checkpoint")
		if prev == nil || prev.Error() != err.Error() {
			s.log.Error("file source: cannot write the checkpoint: new files wait, and a restart would read again what was delivered since the last write",
				"err", err)
		}
		return err
	}
	for _, id := range ids {
		id.durable.Store(true)
	}
	if prev != nil {
		s.log.Info("file source: checkpoint written again", "failedWrites", s.ckFailures)
		s.ckFailures = 0
	}
	return nil
}

// NotReady returns why the checkpoint file cannot be written, or "" once
// the latest write succeeded. The daemon's /readyz reports it
// (daemon.NotReadier). It is safe for concurrent use.
func (s *Source) NotReady() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ckErr != nil {
		return "checkpoint: " + s.ckErr.Error()
	}
	return ""
}

// excluded reports whether path matches an exclude pattern.
func (s *Source) excluded(path string) bool {
	for _, p := range s.cfg.Exclude {
		target := path
		if !strings.ContainsRune(p, filepath.Separator) {
			target = filepath.Base(path)
		}
		if ok, _ := filepath.Match(p, target); ok {
			return true
		}
	}
	return false
}

func fingerprint(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

var (
	_ sluice.BatchSource[event.Event] = (*Source)(nil)
	_ sluice.Runner                   = (*Source)(nil)
)
