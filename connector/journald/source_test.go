package journald

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/retry"
)

func testConfig(journalctl, dir, state string) Config {
	return Config{Journalctl: journalctl, Directory: dir, StartAt: "beginning", StateDir: state,
		CheckpointInterval: 10 * time.Millisecond, Restart: retry.Policy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}}
}

// running is a Source whose Run runs in a goroutine.
type running struct {
	*Source
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, c Config) *running {
	t.Helper()
	s, err := New(c, "j")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Source: s, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run and returns its error.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of its ctx being cancelled")
		return nil
	}
}

// recv receives n events and their acks.
func recv(t *testing.T, s *Source, n int) ([]event.Event, []func()) {
	t.Helper()
	var evs []event.Event
	var acks []func()
	for range n {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		m, ack, err := s.Recv(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Recv after %d of %d events: %v", len(evs), n, err)
		}
		evs = append(evs, m.Value)
		acks = append(acks, ack)
	}
	return evs, acks
}

func messages(evs []event.Event) []string {
	var s []string
	for _, e := range evs {
		s = append(s, string(e.Raw))
	}
	return s
}

func numbered(from, to int) [][]event.Field {
	var es [][]event.Field
	for i := from; i <= to; i++ {
		es = append(es, fs("MESSAGE", fmt.Sprintf("m%d", i)))
	}
	return es
}

func names(from, to int) []string {
	var s []string
	for i := from; i <= to; i++ {
		s = append(s, fmt.Sprintf("m%d", i))
	}
	return s
}

func checkFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func savedCursor(t *testing.T, state string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(state, "cursor"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestMapping(t *testing.T) {
	journalctl, dir := fakeJournal(t)
	appendEntries(t, dir, fs(
		"__REALTIME_TIMESTAMP", "1700000000123456",
		"_BOOT_ID", "b1",
		"PRIORITY", "3",
		"SYSLOG_FACILITY", "4",
		"SYSLOG_IDENTIFIER", "sshd",
		"_PID", "42",
		"_HOSTNAME", "web1",
		"_SYSTEMD_UNIT", "ssh.service",
		"MESSAGE", "bad\nlogin\x00",
	), fs("MESSAGE", "no time", "PRIORITY", "x"))
	s := start(t, testConfig(journalctl, dir, t.TempDir()))
	evs, _ := recv(t, s.Source, 2)
	got := evs[0]
	got.ReceivedAt = time.Time{}
	want := event.Event{
		Time:       time.UnixMicro(1700000000123456),
		Source:     "j",
		SourceType: "journald",
		Host:       "web1",
		Raw:        []byte("bad\nlogin\x00"),
		Syslog: event.Syslog{Present: true, Severity: 3, Facility: 4, AppName: "sshd", ProcID: "42",
			Hostname: "web1", Message: "bad\nlogin\x00"},
		Fields: fs("__CURSOR", "i=1", "_BOOT_ID", "b1", "_SYSTEMD_UNIT", "ssh.service"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v,\nwant %+v", got, want)
	}
	if evs[1].ReceivedAt.IsZero() || !evs[1].Flags.Has(event.NoTime) {
		t.Errorf("entry without time: got ReceivedAt %v, flags %v; want a ReceivedAt and noTime", evs[1].ReceivedAt, evs[1].Flags.Names())
	}
	if v, _ := evs[1].Field("PRIORITY"); v != "x" {
		t.Errorf("invalid PRIORITY: got %q in Fields, want %q", v, "x")
	}
}

// TestRestartFromCursor acks some entries, stops, and checks that a new
// source resumes after the last entry of the acked prefix.
func TestRestartFromCursor(t *testing.T) {
	journalctl, dir := fakeJournal(t)
	state := t.TempDir()
	appendEntries(t, dir, numbered(1, 5)...)
	c := testConfig(journalctl, dir, state)
	s := start(t, c)
	evs, acks := recv(t, s.Source, 5)
	if got, want := messages(evs), names(1, 5); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	acks[0]()
	acks[1]()
	acks[3]() // m3 is not acked: m4 must come back too
	checkFor(t, "the cursor to be saved", func() bool { return savedCursor(t, state) == "i=2" })
	if err := s.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, _, err := s.Recv(t.Context()); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv after Run: got %v, want io.EOF", err)
	}

	s2 := start(t, c)
	evs, _ = recv(t, s2.Source, 3)
	if got, want := messages(evs), names(3, 5); !slices.Equal(got, want) {
		t.Errorf("after restart: got %q, want %q (m1 and m2 were acked)", got, want)
	}
	args := fakeArgs(dir)
	if len(args) != 2 || !strings.Contains(args[1], "--after-cursor=i=2") {
		t.Errorf("journalctl arguments: got %q, want a second run with --after-cursor=i=2", args)
	}
}

// TestAckAfterStop acks entries after Run has returned, as the daemon
// does while it drains: the last ack saves the cursor.
func TestAckAfterStop(t *testing.T) {
	journalctl, dir := fakeJournal(t)
	state := t.TempDir()
	appendEntries(t, dir, numbered(1, 3)...)
	s := start(t, testConfig(journalctl, dir, state))
	_, acks := recv(t, s.Source, 3)
	if err := s.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := savedCursor(t, state); got != "" {
		t.Fatalf("cursor before any ack: got %q, want none", got)
	}
	for _, ack := range acks {
		ack()
		ack() // a second call changes nothing
	}
	if got := savedCursor(t, state); got != "i=3" {
		t.Errorf("cursor: got %q, want %q", got, "i=3")
	}
}

func TestJournalctlRestarts(t *testing.T) {
	journalctl, dir := fakeJournal(t)
	appendEntries(t, dir, numbered(1, 2)...)
	if err := os.WriteFile(filepath.Join(dir, "crash"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, testConfig(journalctl, dir, t.TempDir()))
	evs, _ := recv(t, s.Source, 2)
	checkFor(t, "journalctl to be started again", func() bool { return len(fakeArgs(dir)) == 2 })
	appendEntries(t, dir, numbered(3, 4)...)
	more, _ := recv(t, s.Source, 2)
	if got, want := messages(append(evs, more...)), names(1, 4); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if args := fakeArgs(dir); !strings.Contains(args[1], "--after-cursor=i=2") {
		t.Errorf("second journalctl: got %q, want --after-cursor=i=2", args[1])
	}
}

func TestStartAtEnd(t *testing.T) {
	journalctl, dir := fakeJournal(t)
	appendEntries(t, dir, numbered(1, 2)...)
	c := testConfig(journalctl, dir, t.TempDir())
	c.StartAt = "end"
	s := start(t, c)
	checkFor(t, "journalctl to start", func() bool { return following(dir) })
	appendEntries(t, dir, numbered(3, 3)...)
	evs, _ := recv(t, s.Source, 1)
	if got, want := messages(evs), names(3, 3); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestStartAtEndStoppedEarly stops a source that started at the end of
// the journal before it saved any cursor of an acked entry, as a SIGKILL
// right after the first start does: the end it started at must already
// be saved, so that a restart reads the entries it had not delivered
// (one handed on but not acked, or one written while it was down)
// instead of starting at the new end and skipping them.
func TestStartAtEndStoppedEarly(t *testing.T) {
	for _, tc := range []struct {
		name   string
		unread bool   // m3 is handed on and never acked, rather than written while stopped
		empty  bool   // the journal is empty at the first start
		saved  string // the cursor saved by the first start
	}{
		{name: "handed on, not acked", unread: true, saved: "i=2"},
		{name: "written while stopped", saved: "i=2"},
		{name: "empty journal, handed on, not acked", unread: true, empty: true},
		{name: "empty journal, written while stopped", empty: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			journalctl, dir := fakeJournal(t)
			state := t.TempDir()
			if tc.empty {
				appendEntries(t, dir) // an empty journal
			} else {
				appendEntries(t, dir, numbered(1, 2)...)
			}
			c := testConfig(journalctl, dir, state)
			c.StartAt, c.CheckpointInterval = "end", time.Hour
			s := start(t, c)
			checkFor(t, "journalctl to follow", func() bool { return following(dir) })
			if tc.empty {
				appendEntries(t, dir, numbered(1, 2)...)
			}
			var first []event.Event
			if tc.empty && tc.unread {
				first, _ = recv(t, s.Source, 2)
			}
			appendEntries(t, dir, numbered(3, 3)...)
			if tc.unread {
				evs, _ := recv(t, s.Source, 1)
				if first = append(first, evs...); messages(first)[len(first)-1] != "m3" {
					t.Fatalf("first run: got %q, want m3 last", messages(first))
				}
			}
			if err := s.stop(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if _, err := os.Stat(filepath.Join(state, "cursor")); err != nil {
				t.Errorf("no state saved by a source that acked nothing: %v", err)
			} else if got := savedCursor(t, state); got != tc.saved {
				t.Errorf("cursor saved by a source that acked nothing: got %q, want %q, the end it started at", got, tc.saved)
			}
			s2 := start(t, c)
			checkFor(t, "journalctl to follow again", func() bool {
				return len(slices.DeleteFunc(fakeArgs(dir), func(a string) bool { return !strings.Contains(a, "--follow") })) == 2
			})
			appendEntries(t, dir, numbered(4, 4)...)
			from := 3
			if tc.empty {
				from = 1 // every entry came after the first start
			}
			evs, _ := recv(t, s2.Source, 5-from)
			if got, want := messages(evs), names(from, 4); !slices.Equal(got, want) {
				t.Errorf("after restart: got %q, want %q (m3 was never acked)", got, want)
			}
		})
	}
}

// TestStartAtEndNotLearned: a first start at the end whose journalctl
// --lines=1 fails hands on no entry before the end it starts at is saved.
// It asks again, with back-off, and starts once journalctl answers; if
// journalctl never does within StartTimeout, Run fails saying why and
// nothing is read.
func TestStartAtEndNotLearned(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fails int    // failed --lines=1 runs; -1: every one
		want  string // the start of Run's error; "": it starts
	}{
		{name: "fails once", fails: 1},
		{name: "fails three times", fails: 3},
		{name: "never answers", fails: -1,
			want: `journald: startAt "end": journalctl did not tell where the journal ends within 2s (startTimeout), so no start could be saved: `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			journalctl, dir := fakeJournal(t)
			state := t.TempDir()
			appendEntries(t, dir, numbered(1, 2)...)
			if err := os.WriteFile(filepath.Join(dir, "failend"), []byte(strconv.Itoa(tc.fails)), 0o644); err != nil {
				t.Fatal(err)
			}
			c := testConfig(journalctl, dir, state)
			c.StartAt, c.CheckpointInterval, c.StartTimeout = "end", time.Hour, time.Minute
			if tc.want != "" {
				c.StartTimeout = 2 * time.Second
			}
			s := start(t, c)
			asked := func() int {
				return len(slices.DeleteFunc(fakeArgs(dir), func(a string) bool { return !strings.Contains(a, "--lines=1") }))
			}
			if tc.want != "" {
				// Meanwhile /readyz says why nothing comes.
				checkFor(t, "NotReady to give journalctl's error", func() bool {
					return strings.HasPrefix(s.NotReady(), `startAt "end": journalctl did not tell where the journal ends, so nothing is read until it does: `) &&
						strings.Contains(s.NotReady(), "failing as asked")
				})
				select {
				case err := <-s.done:
					s.done <- err
					t.Logf("Run: %v", err)
					if err == nil || !strings.HasPrefix(err.Error(), tc.want) || !strings.Contains(err.Error(), "failing as asked") {
						t.Errorf("Run: got %v, want %q and journalctl's stderr", err, tc.want)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("Run did not fail within 20s though journalctl never told where the journal ends")
				}
				if following(dir) {
					t.Error("journalctl --follow was started")
				}
				if _, _, err := s.Recv(t.Context()); !errors.Is(err, io.EOF) {
					t.Errorf("Recv after the failed Run: got %v, want io.EOF", err)
				}
				if _, err := os.Stat(filepath.Join(state, "cursor")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("a state file was saved: %v", err)
				}
				if asked() < 2 {
					t.Errorf("journalctl --lines=1 ran %d times, want it asked again", asked())
				}
				return
			}
			checkFor(t, "journalctl to follow", func() bool { return following(dir) })
			if why := s.NotReady(); why != "" {
				t.Errorf("NotReady = %q once following", why)
			}
			if got := savedCursor(t, state); got != "i=2" {
				t.Errorf("cursor saved when following began: got %q, want i=2, the end it starts at", got)
			}
			if got := asked(); got != tc.fails+1 {
				t.Errorf("journalctl --lines=1 ran %d times, want %d", got, tc.fails+1)
			}
			appendEntries(t, dir, numbered(3, 3)...)
			if evs, _ := recv(t, s.Source, 1); messages(evs)[0] != "m3" {
				t.Errorf("got %q, want m3", messages(evs))
			}
		})
	}
}

// TestStateNotWritable: a first start at the end whose state directory
// exists but cannot be written (/proc: even root cannot) fails at once,
// before reading any entry, whether the journal is empty or not.
func TestStateNotWritable(t *testing.T) {
	for _, empty := range []bool{false, true} {
		t.Run(fmt.Sprint("empty=", empty), func(t *testing.T) {
			journalctl, dir := fakeJournal(t)
			appendEntries(t, dir)
			if !empty {
				appendEntries(t, dir, numbered(1, 2)...)
			}
			c := testConfig(journalctl, dir, "/proc")
			c.StartAt = "end"
			s, err := New(c, "j")
			if err != nil {
				t.Fatal(err)
			}
			err = s.Run(t.Context())
			if want := "journald: save cursor: "; err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Run: got %v, want %q...", err, want)
			}
			if following(dir) {
				t.Error("journalctl --follow was started")
			}
			if _, _, err := s.Recv(t.Context()); !errors.Is(err, io.EOF) {
				t.Errorf("Recv after the failed Run: got %v, want io.EOF", err)
			}
		})
	}
}

func TestMissingJournalctl(t *testing.T) {
	tests := []struct {
		name, journalctl, path, want string
	}{
		{name: "default", journalctl: "", path: t.TempDir(), want: "journald: journalctl not found in PATH: install systemd"},
		{name: "path", journalctl: "/nonexistent/journalctl", path: os.Getenv("PATH"), want: `journald: journalctl "/nonexistent/journalctl" not found: install systemd`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PATH", tc.path)
			s, err := New(Config{Journalctl: tc.journalctl, StateDir: t.TempDir()}, "j")
			if err != nil {
				t.Fatal(err)
			}
			err = s.Run(t.Context())
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
			if _, _, err := s.Recv(t.Context()); !errors.Is(err, io.EOF) {
				t.Errorf("Recv after a failed Run: got %v, want io.EOF", err)
			}
		})
	}
}

func TestRunTwice(t *testing.T) {
	journalctl, dir := fakeJournal(t)
	s := start(t, testConfig(journalctl, dir, t.TempDir()))
	checkFor(t, "journalctl to start", func() bool { return len(fakeArgs(dir)) == 1 })
	if err := s.Run(t.Context()); !errors.Is(err, sluice.ErrAlreadyRunning) {
		t.Errorf("second Run: got %v, want ErrAlreadyRunning", err)
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		want []string // journalctl arguments; nil: New fails
	}{
		{name: "defaults", c: Config{StateDir: "s"}, want: []string{"--follow", "--output=export", "--all", "--lines=0"}},
		{name: "beginning, directory and units", c: Config{StateDir: "s", StartAt: "beginning", Directory: "/j", Units: []string{"a.service", "b"}},
			want: []string{"--follow", "--output=export", "--all", "--directory=/j", "--lines=all", "--unit=a.service", "--unit=b"}},
		{name: "bad startAt", c: Config{StateDir: "s", StartAt: "middle"}},
		{name: "no stateDir", c: Config{}},
		{name: "negative interval", c: Config{StateDir: "s", CheckpointInterval: -1}},
		{name: "empty unit", c: Config{StateDir: "s", Units: []string{""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.c, "j")
			if tc.want == nil {
				if err == nil {
					t.Errorf("New: got no error, want one")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.cfg.args(""); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	s, _ := New(Config{StateDir: "s", StartAt: "end"}, "j")
	if got, want := s.cfg.args("c1"), []string{"--follow", "--output=export", "--all", "--after-cursor=c1", "--lines=all"}; !slices.Equal(got, want) {
		t.Errorf("with a cursor: got %q, want %q", got, want)
	}
}
