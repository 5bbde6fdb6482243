// Package journald reads the systemd journal: the "journald" source.
//
// The source runs journalctl --follow --output=export, which it needs
// installed (package systemd), and parses its output in pure Go: no cgo,
// no libsystemd. Each journal entry becomes an event whose Raw is the
// MESSAGE field, with the syslog-like fields mapped into event.Syslog and
// every other field kept in Fields; see [Source].
//
// Delivery is at least once. Every entry carries a cursor (__CURSOR); the
// source saves the cursor of the last entry such that it and every entry
// before it were acked, every CheckpointInterval and at stop, and on
// restart asks journalctl for the entries after it. A first start at the
// journal's end saves the end's cursor before handing on any entry; if
// journalctl cannot tell where the end is, the source asks again and
// hands on nothing ([Source.NotReady] says why), and Run fails after
// StartTimeout.
// Entries acked after the last save are delivered again after a crash;
// entries never acked always are. If journalctl exits, it is started
// again, with back-off, after the last entry read.
package journald

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/checkpoint"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/atomicfile"
	"github.com/sluicehq/sluice/internal/defaults"
	"github.com/sluicehq/sluice/memory"
	"github.com/sluicehq/sluice/retry"
)

// Counters receives the source's counts; the daemon's metrics implement
// it. Methods must be safe for concurrent use.
type Counters interface {
	Error(cause string)
	Dropped(cause string, n int)
}

type nopCounters struct{}

func (nopCounters) Error(string)        {}
func (nopCounters) Dropped(string, int) {}

// Option configures a Source.
type Option func(*Source)

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(s *Source) { s.log = l } }

// WithCounters sets where counts go ("journalctl-exit", "journalctl-end",
// "checkpoint").
// Default: nowhere.
func WithCounters(c Counters) Option { return func(s *Source) { s.count = c } }

// Source follows the journal. It is a [sluice.Runner]: Run starts
// journalctl and reads its entries until ctx is done, then stops it, saves
// the cursor and closes the queue; Recv returns what was read, then
// io.EOF. Recv is safe for concurrent use.
//
// An event has SourceType "journald"; Raw and Syslog.Message are the
// MESSAGE field (a binary MESSAGE is kept as it is); Time is
// __REALTIME_TIMESTAMP; Host and Syslog.Hostname are _HOSTNAME;
// Syslog.Severity is PRIORITY, Syslog.Facility SYSLOG_FACILITY,
// Syslog.AppName SYSLOG_IDENTIFIER and Syslog.ProcID _PID. Fields holds
// every other field in journal order, __CURSOR and _SYSTEMD_UNIT among
// them; a mapped field whose value does not parse (a PRIORITY of "x")
// stays in Fields instead.
type Source struct {
	cfg   Config
	name  string
	log   *slog.Logger
	count Counters
	q     *memory.Queue[event.Event]

	running atomic.Bool
	stopped atomic.Bool // Run is done: an ack that empties the tracker saves
	tracker atomic.Pointer[checkpoint.Tracker[string]]

	stateMu sync.Mutex
	saved   string // the cursor in the state file

	unready atomic.Pointer[string] // why no entry is read now, for NotReady
}

// New returns a Source named name (the name events carry). Zero fields of
// c take the defaults of [DefaultConfig]; StateDir is required. It does
// no I/O.
func New(c Config, name string, opts ...Option) (*Source, error) {
	defaults.Fill(&c, DefaultConfig())
	c.Units = slices.Clone(c.Units)
	err := c.Validate()
	if c.StateDir == "" {
		err = errors.Join(err, errors.New("stateDir: required"))
	}
	if err != nil {
		return nil, fmt.Errorf("journald: %w", err)
	}
	s := &Source{cfg: c, name: name, log: slog.New(slog.DiscardHandler), count: nopCounters{},
		q: memory.New[event.Event](4096)}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Recv returns the next entry as an event; its ack marks the entry
// delivered, for the cursor. After Run has returned, Recv returns what is
// left, then io.EOF.
func (s *Source) Recv(ctx context.Context) (sluice.Message[event.Event], func(), error) {
	m, ack, err := s.q.Recv(ctx)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return m, nil, io.EOF
		}
		return m, nil, fmt.Errorf("journald: %w", err)
	}
	return m, ack, nil
}

// Run starts journalctl after the saved cursor and reads until ctx is
// done, starting journalctl again when it exits. A journalctl that cannot
// be found, or a state directory that cannot be read or written, is an
// error at once; a first start at the end that cannot learn where the
// journal ends within StartTimeout is an error then.
// A second call returns [sluice.ErrAlreadyRunning].
func (s *Source) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return fmt.Errorf("journald: %w", sluice.ErrAlreadyRunning)
	}
	defer s.q.Close()
	path, err := exec.LookPath(s.cfg.Journalctl)
	if err != nil {
		if s.cfg.Journalctl == "journalctl" {
			return errors.New("journald: journalctl not found in PATH: install systemd")
		}
		return fmt.Errorf("journald: journalctl %q not found: install systemd: %w", s.cfg.Journalctl, err)
	}
	if err := os.MkdirAll(s.cfg.StateDir, 0o755); err != nil {
		return fmt.Errorf("journald: state: %w", err)
	}
	cursor, found, err := s.load()
	if err != nil {
		return err
	}
	if found && cursor == "" {
		s.cfg.StartAt = "beginning" // the journal was empty at the first start
	} else if !found && s.cfg.StartAt == "end" {
		var empty bool
		if cursor, empty, err = s.end(ctx, path); err != nil {
			if ctx.Err() != nil {
				return nil // stopped before it started: nothing read
			}
			return err
		}
		if empty {
			s.cfg.StartAt = "beginning" // its end is its beginning
			if err := atomicfile.WriteFile(s.statePath(), nil, 0o644); err != nil {
				return fmt.Errorf("journald: save cursor: %w", err)
			}
		}
	}
	t := checkpoint.New[string]()
	if cursor != "" {
		t = checkpoint.NewAt(cursor)
	}
	s.tracker.Store(t)
	if err := s.persist(); err != nil {
		return err // the end it starts at is durable before any entry is handed on
	}
	s.log.Info("following the journal", "journalctl", path, "cursor", cursor, "startAt", s.cfg.StartAt)

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { s.checkpoints(ctx) })
	s.follow(ctx, path, cursor)
	cancel()
	wg.Wait()
	s.stopped.Store(true)
	if err := s.persist(); err != nil {
		return err
	}
	return nil
}

// NotReady returns why the source reads no entry now, or ""
// (daemon.NotReadier): a first start at the end whose journalctl
// --lines=1 failed and is asked again (see [Source.Run]). It is safe for
// concurrent use.
func (s *Source) NotReady() string {
	if p := s.unready.Load(); p != nil {
		return *p
	}
	return ""
}

// end returns the cursor of the journal's last entry, where a source
// with no saved cursor and StartAt "end" starts: Run saves it before
// handing on any entry, so that a source stopped or killed before its
// first checkpoint resumes there rather than at a later end, skipping
// what came between. For an empty journal it returns empty true: Run
// reads it from its beginning and saves an empty state file, which says
// so to the next start. If journalctl fails, end counts it
// ("journalctl-end"), logs it and asks again after Restart's back-off;
// once StartTimeout has passed it returns an error naming the last
// failure: a source never starts at an end it has not saved.
func (s *Source) end(ctx context.Context, path string) (cursor string, empty bool, err error) {
	tctx, cancel := context.WithTimeout(ctx, s.cfg.StartTimeout)
	defer cancel()
	var last error
	err = retry.DoNotify(tctx, s.cfg.Restart, func(error) bool { return true }, func(ctx context.Context) error {
		var err error
		cursor, empty, err = s.lastCursor(ctx, path)
		if err != nil && ctx.Err() == nil {
			last = err // not one cut short by the deadline
		}
		return err
	}, func(_ int, d time.Duration, err error) {
		why := "startAt \"end\": journalctl did not tell where the journal ends, so nothing is read until it does: " + err.Error()
		s.unready.Store(&why)
		s.count.Error("journalctl-end")
		s.log.Warn("journalctl did not tell where the journal ends; asking again, nothing is read meanwhile", "err", err, "in", d)
	})
	s.unready.Store(nil)
	if err == nil || ctx.Err() != nil {
		return cursor, empty, err
	}
	if last == nil {
		last = err
	}
	return "", false, fmt.Errorf("journald: startAt \"end\": journalctl did not tell where the journal ends within %v (startTimeout), so no start could be saved: %w",
		s.cfg.StartTimeout, last)
}

// lastCursor runs journalctl --lines=1 once and returns the cursor of
// the last entry, or empty true if the journal has none.
func (s *Source) lastCursor(ctx context.Context, path string) (cursor string, empty bool, err error) {
	args := []string{"--output=export", "--all", "--lines=1"}
	if s.cfg.Directory != "" {
		args = append(args, "--directory="+s.cfg.Directory)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	var stderr tail
	cmd.Stderr = &stderr
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.Output()
	if err != nil {
		if msg := bytes.TrimSpace(stderr.bytes()); len(msg) > 0 {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return "", false, fmt.Errorf("journalctl --lines=1: %w", err)
	}
	r := NewReader(bytes.NewReader(out))
	for {
		fields, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", false, fmt.Errorf("journalctl --lines=1: %w", err)
		}
		for _, f := range fields {
			if f.Name == "__CURSOR" {
				cursor = f.Value
			}
		}
	}
	empty = len(bytes.TrimSpace(out)) == 0
	if cursor == "" && !empty {
		return "", false, errors.New("journalctl --lines=1: the last entry has no __CURSOR")
	}
	return cursor, empty, nil
}

// follow runs journalctl until ctx is done, again after each exit.
func (s *Source) follow(ctx context.Context, path, cursor string) {
	attempt := 0
	for {
		started := time.Now()
		n, err := s.readOnce(ctx, path, &cursor)
		if ctx.Err() != nil {
			return
		}
		if n > 0 || time.Since(started) > time.Minute {
			attempt = 0
		}
		d := s.cfg.Restart.Delay(attempt)
		attempt++
		s.count.Error("journalctl-exit")
		s.log.Warn("journalctl exited; starting it again", "err", err, "entries", n, "in", d)
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// readOnce runs journalctl once after *cursor and queues its entries,
// moving *cursor past each. It returns how many it queued and why it
// stopped.
func (s *Source) readOnce(ctx context.Context, path string, cursor *string) (int, error) {
	cmd := exec.CommandContext(ctx, path, s.cfg.args(*cursor)...)
	var stderr tail
	cmd.Stderr = &stderr
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	r := NewReader(out)
	t := s.tracker.Load()
	n := 0
	var readErr error
	for {
		fields, err := r.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
		size := entryBytes(fields)
		ev, c := s.event(fields, time.Now())
		if c == "" {
			c = *cursor // no cursor: resume as if after the entry before
		}
		seq := t.Track(c)
		ack := func() {
			if t.Ack(seq) && s.stopped.Load() && t.Pending() == 0 {
				if err := s.persist(); err != nil {
					s.log.Warn("saving the cursor", "err", err)
				}
			}
		}
		if size > s.cfg.MaxEntryBytes {
			s.oversize(&ev, size, c)
			ack()
			*cursor = c
			continue
		}
		if err := s.q.Send(ctx, ack, sluice.Message[event.Event]{Value: ev}); err != nil {
			break // ctx is done
		}
		*cursor = c
		n++
	}
	if readErr != nil && cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
	err = cmd.Wait()
	if readErr != nil {
		err = errors.Join(readErr, err)
	}
	if err == nil {
		err = errors.New("exit status 0")
	}
	if msg := bytes.TrimSpace(stderr.bytes()); len(msg) > 0 {
		err = fmt.Errorf("%w: %s", err, msg)
	}
	return n, fmt.Errorf("journalctl: %w", err)
}

// event maps an entry to an event and returns its cursor. It takes over
// fields.
func (s *Source) event(fields []event.Field, now time.Time) (event.Event, string) {
	ev := event.Event{ReceivedAt: now, Source: s.name, SourceType: "journald", Syslog: event.Syslog{Present: true}}
	var cursor string
	var seen uint8
	once := func(bit uint8) bool {
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}
	kept := fields[:0]
	for _, f := range fields {
		switch f.Name {
		case "MESSAGE":
			if once(1 << 0) {
				ev.Raw, ev.Syslog.Message = []byte(f.Value), f.Value
				continue
			}
		case "__REALTIME_TIMESTAMP":
			if us, err := strconv.ParseInt(f.Value, 10, 64); err == nil && once(1<<1) {
				ev.Time = time.UnixMicro(us)
				continue
			}
		case "PRIORITY":
			if p, err := strconv.ParseUint(f.Value, 10, 8); err == nil && p <= 7 && once(1<<2) {
				ev.Syslog.Severity = uint8(p)
				continue
			}
		case "SYSLOG_FACILITY":
			if p, err := strconv.ParseUint(f.Value, 10, 8); err == nil && p <= 23 && once(1<<3) {
				ev.Syslog.Facility = uint8(p)
				continue
			}
		case "SYSLOG_IDENTIFIER":
			if once(1 << 4) {
				ev.Syslog.AppName = f.Value
				continue
			}
		case "_PID":
			if once(1 << 5) {
				ev.Syslog.ProcID = f.Value
				continue
			}
		case "_HOSTNAME":
			if once(1 << 6) {
				ev.Host, ev.Syslog.Hostname = f.Value, f.Value
				continue
			}
		case "__CURSOR":
			if cursor == "" {
				cursor = f.Value
			}
		}
		kept = append(kept, f)
	}
	if len(kept) > 0 {
		ev.Fields = kept
	}
	if ev.Time.IsZero() {
		ev.Flags |= event.NoTime
	}
	return ev, cursor
}

// checkpoints saves the committed cursor every CheckpointInterval until
// ctx is done.
func (s *Source) checkpoints(ctx context.Context) {
	tick := time.NewTicker(s.cfg.CheckpointInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := s.persist(); err != nil {
				s.count.Error("checkpoint")
				s.log.Warn("saving the cursor", "err", err)
			}
		}
	}
}

func (s *Source) statePath() string { return filepath.Join(s.cfg.StateDir, "cursor") }

// load reads the saved cursor, and whether the state file exists: one
// that holds no cursor was saved by a first start on an empty journal.
func (s *Source) load() (string, bool, error) {
	b, err := os.ReadFile(s.statePath())
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("journald: state: %w", err)
	}
	c := string(bytes.TrimSpace(b))
	s.stateMu.Lock()
	s.saved = c
	s.stateMu.Unlock()
	return c, true, nil
}

// persist saves the committed cursor if it changed: written to a
// temporary file, fsynced, renamed over the state file, and the directory
// fsynced.
func (s *Source) persist() error {
	t := s.tracker.Load()
	if t == nil {
		return nil
	}
	c, ok := t.Committed()
	if !ok {
		return nil
	}
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	if c == s.saved {
		return nil
	}
	if err := atomicfile.WriteFile(s.statePath(), []byte(c+"\n"), 0o644); err != nil {
		return fmt.Errorf("journald: save cursor: %w", err)
	}
	s.saved = c
	return nil
}

// tail keeps the last 4 KiB written to it: journalctl's stderr. It is
// safe for concurrent use.
type tail struct {
	mu sync.Mutex
	b  []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = append(t.b[:0], t.b[len(t.b)-4096:]...)
	}
	return len(p), nil
}

func (t *tail) bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.b)
}

var (
	_ sluice.Source[event.Event] = (*Source)(nil)
	_ sluice.Runner              = (*Source)(nil)
)
