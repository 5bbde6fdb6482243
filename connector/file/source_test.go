package file_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/sluicetest"
)

// appender is a test destination that appends each message's Raw and a
// newline to a file, fsyncs, and acks: what the source tails.
type appender struct {
	mu   sync.Mutex
	path string
}

func (a *appender) Send(ctx context.Context, ack func(), msgs ...sluice.Message[event.Event]) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(msgs) == 0 {
		sluice.Ack(ack)
		return nil
	}
	var b []byte
	for _, m := range msgs {
		b = append(append(b, m.Value.Raw...), '\n')
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	f, err := os.OpenFile(a.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	sluice.Ack(ack)
	return nil
}

func TestSourceConformance(t *testing.T) {
	dir := t.TempDir()
	sluicetest.Suite[event.Event]{
		Features: sluicetest.Features{Durable: true, ConcurrentRecv: true, Ordered: true},
		NewPair: func(t *testing.T, name string) (sluice.Source[event.Event], sluice.Destination[event.Event]) {
			path := filepath.Join(dir, name+".log")
			s, err := file.NewSource(file.SourceConfig{Paths: []string{path}, StartAt: "beginning",
				StateDir: filepath.Join(dir, name+".state"), PollInterval: 5 * time.Millisecond,
				CheckpointInterval: 10 * time.Millisecond}, name, file.WithAckWait(100*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			return s, &appender{path: path}
		},
		Wrap: func(p []byte) sluice.Message[event.Event] {
			return sluice.Message[event.Event]{Value: event.Event{Raw: p}}
		},
		Unwrap: func(m sluice.Message[event.Event]) []byte { return m.Value.Raw },
	}.Run(t)
}

// running is a Source under test, with a goroutine receiving its events.
type running struct {
	src    *file.Source
	cancel context.CancelFunc
	done   chan error
	recvd  chan struct{}

	mu   sync.Mutex
	evs  []event.Event
	acks []func()

	receive chan struct{} // closed when events are to be received
}

// run starts a Source over cfg; with autoAck, every event is acked as it
// is received. t.Cleanup stops it.
func run(t *testing.T, cfg file.SourceConfig, autoAck bool) *running {
	t.Helper()
	return startSource(t, cfg, autoAck, false)
}

// runPaused is run with nothing received until the test closes r.receive.
func runPaused(t *testing.T, cfg file.SourceConfig, autoAck bool) *running {
	t.Helper()
	return startSource(t, cfg, autoAck, true)
}

func startSource(t *testing.T, cfg file.SourceConfig, autoAck, paused bool, opts ...file.SourceOption) *running {
	t.Helper()
	if cfg.StateDir == "" {
		cfg.StateDir = filepath.Join(t.TempDir(), "state")
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 5 * time.Millisecond
	}
	if cfg.CheckpointInterval == 0 {
		cfg.CheckpointInterval = 10 * time.Millisecond
	}
	statePath := filepath.Join(cfg.StateDir, "checkpoints.json")
	_, err := os.Stat(statePath)
	fresh := errors.Is(err, os.ErrNotExist)
	s, err := file.NewSource(cfg, "test", append([]file.SourceOption{file.WithAckWait(200 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{src: s, cancel: cancel, done: make(chan error, 1), recvd: make(chan struct{})}
	r.receive = make(chan struct{})
	if !paused {
		close(r.receive)
	}
	go func() { r.done <- s.Run(ctx) }()
	go func() {
		defer close(r.recvd)
		<-r.receive
		for {
			m, ack, err := s.Recv(context.Background())
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Errorf("Recv: %v", err)
				}
				return
			}
			r.mu.Lock()
			r.evs = append(r.evs, m.Value)
			r.acks = append(r.acks, ack)
			r.mu.Unlock()
			if autoAck {
				ack()
			}
		}
	}()
	t.Cleanup(func() { r.stop(t) })
	// Run writes the checkpoint file right after its first scan: wait for
	// it, so that what a test writes next is not rotated out of the globs
	// before the source has seen it.
	if !fresh {
		return r
	}
	waitCond(t, "the first scan", func() bool {
		_, err := os.Stat(statePath)
		return err == nil
	})
	return r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	select {
	case <-r.receive:
	default:
		close(r.receive) // a paused test that stopped early
	}
	<-r.recvd
}

// count is len(r.events()) without the copy: a poll every 2ms that copies
// tens of thousands of events holds r.mu and the CPU the source needs.
func (r *running) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.evs)
}

// has reports whether an event received so far starts with prefix.
func (r *running) has(prefix string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := []byte(prefix)
	return slices.ContainsFunc(r.evs, func(e event.Event) bool { return bytes.HasPrefix(e.Raw, p) })
}

func (r *running) events() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.evs)
}

func (r *running) raws() []string {
	var out []string
	for _, e := range r.events() {
		out = append(out, string(e.Raw))
	}
	return out
}

// waitN waits until r has received at least n events.
func (r *running) waitN(t *testing.T, n int) {
	t.Helper()
	waitCond(t, fmt.Sprintf("%d events", n), func() bool { return r.count() >= n })
}

func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !waitFor(cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// waitFor reports whether cond became true within 60s: 30,000 lines
// read under -race on a loaded machine took over 20s.
func waitFor(cond func() bool) bool {
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond) // polling with a deadline
	}
	return true
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func TestSourceLines(t *testing.T) {
	long := strings.Repeat("x", 25)
	cases := []struct {
		name   string
		cfg    file.SourceConfig
		before map[string]string // files written before start
		after  []string          // appended to a.log, in order, after the first event (or start)
		want   []string
		flags  []event.Flags // if set, the events' flags
	}{
		{name: "beginning", cfg: file.SourceConfig{StartAt: "beginning"},
			before: map[string]string{"a.log": "old1\nold2\n"}, after: []string{"new\n"},
			want: []string{"old1", "old2", "new"}},
		{name: "end", cfg: file.SourceConfig{StartAt: "end"},
			before: map[string]string{"a.log": "old1\nold2\n"}, after: []string{"new\n"},
			want: []string{"new"}},
		{name: "long line split", cfg: file.SourceConfig{StartAt: "beginning", MaxLineBytes: 10},
			before: map[string]string{"a.log": long + "\nshort\n" + strings.Repeat("y", 10) + "\n"},
			want:   []string{long[:10], long[10:20], long[20:], "short", strings.Repeat("y", 10)},
			flags:  []event.Flags{event.Split, event.Split, 0, 0, 0}},
		{name: "partial line completed later", cfg: file.SourceConfig{StartAt: "beginning"},
			before: map[string]string{"a.log": "first\npar"}, after: []string{"tial\n", "next\n"},
			want: []string{"first", "partial", "next"}},
		{name: "crlf kept", cfg: file.SourceConfig{StartAt: "beginning"},
			before: map[string]string{"a.log": "a\r\n\nb\n"}, want: []string{"a\r", "", "b"}},
		{name: "exclude", cfg: file.SourceConfig{StartAt: "beginning", Exclude: []string{"skip*"}},
			before: map[string]string{"a.log": "a\n", "skip.log": "s\n"}, after: []string{"a2\n"},
			want: []string{"a", "a2"}},
		{name: "multiline", cfg: file.SourceConfig{StartAt: "beginning", Multiline: &file.MultilineConfig{StartPattern: `^\S`, Timeout: 20 * time.Millisecond}},
			before: map[string]string{"a.log": "err one\n  at x\n  at y\nok two\n"},
			want:   []string{"err one\n  at x\n  at y", "ok two"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.before {
				appendFile(t, filepath.Join(dir, name), content)
			}
			tc.cfg.Paths = []string{filepath.Join(dir, "*.log")}
			tc.cfg.StateDir = filepath.Join(dir, "state")
			r := run(t, tc.cfg, true)
			if tc.cfg.StartAt == "end" {
				// The first scan has run once the state file exists.
				waitCond(t, "the first checkpoint", func() bool {
					_, err := os.Stat(filepath.Join(tc.cfg.StateDir, "checkpoints.json"))
					return err == nil
				})
			}
			for i, s := range tc.after {
				if i > 0 || len(tc.before) > 0 && tc.cfg.StartAt != "end" {
					r.waitN(t, 1)
				}
				appendFile(t, filepath.Join(dir, "a.log"), s)
			}
			r.waitN(t, len(tc.want))
			r.stop(t)
			got := r.events()
			var raws []string
			for _, e := range got {
				raws = append(raws, string(e.Raw))
				if e.SourceType != "file" || e.Source != "test" || e.File.Path == "" || e.ReceivedAt.IsZero() {
					t.Errorf("event fields: %+v", e)
				}
			}
			if !slices.Equal(raws, tc.want) {
				t.Fatalf("got %q, want %q", raws, tc.want)
			}
			for i, f := range tc.flags {
				if got[i].Flags != f {
					t.Errorf("event %d flags: got %v, want %v", i, got[i].Flags.Names(), f.Names())
				}
			}
		})
	}
}

// TestSourceOffsets checks File.Offset: where each line starts.
func TestSourceOffsets(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	appendFile(t, p, "ab\n\ncde\n")
	r := run(t, file.SourceConfig{Paths: []string{p}, StartAt: "beginning"}, true)
	r.waitN(t, 3)
	var offs []int64
	for _, e := range r.events() {
		offs = append(offs, e.File.Offset)
	}
	if want := []int64{0, 3, 4}; !slices.Equal(offs, want) {
		t.Errorf("got offsets %v, want %v", offs, want)
	}
}

// writeLines appends lines prefix-000000 ... to the file at path, calling
// rotate(i) before line i when it is not nil.
func writeLines(t *testing.T, path, prefix string, n int, rotate func(i int)) []string {
	t.Helper()
	var want []string
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Error(err)
		return nil
	}
	for i := range n {
		if rotate != nil && i > 0 && i%(n/3) == 0 {
			f.Close()
			rotate(i)
			if f, err = os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err != nil {
				t.Error(err)
				return nil
			}
		}
		line := fmt.Sprintf("%s-%06d %s", prefix, i, strings.Repeat("p", i%50))
		want = append(want, line)
		if _, err := f.WriteString(line + "\n"); err != nil {
			t.Error(err)
		}
	}
	f.Close()
	return want
}

// checkExactlyOnce checks that got holds every line of want once.
func checkExactlyOnce(t *testing.T, got, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	missing, dups := 0, 0
	for _, w := range want {
		switch seen[w] {
		case 0:
			missing++
			if missing == 1 {
				t.Errorf("missing %q", w)
			}
		case 1:
		default:
			dups++
		}
	}
	if missing > 0 || dups > 0 || len(got) != len(want) {
		t.Errorf("got %d lines for %d: %d missing, %d duplicated", len(got), len(want), missing, dups)
	}
}

func TestSourceRotationUnderLoad(t *testing.T) {
	cases := []struct {
		name   string
		glob   string
		rotate func(t *testing.T, path string, i int)
	}{
		{"rename and create", "app.log", func(t *testing.T, path string, i int) {
			if err := os.Rename(path, fmt.Sprintf("%s.%d", path, i)); err != nil {
				t.Error(err)
			}
		}},
		{"rename within the glob", "app.log*", func(t *testing.T, path string, i int) {
			if err := os.Rename(path, fmt.Sprintf("%s.%d", path, i)); err != nil {
				t.Error(err)
			}
		}},
		{"copytruncate", "app.log*", func(t *testing.T, path string, i int) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Error(err)
			}
			tmp := filepath.Join(filepath.Dir(path), "copy.tmp")
			if err := os.WriteFile(tmp, b, 0o644); err != nil {
				t.Error(err)
			}
			if err := os.Rename(tmp, fmt.Sprintf("%s.%d", path, i)); err != nil {
				t.Error(err)
			}
			if err := os.Truncate(path, 0); err != nil {
				t.Error(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			appendFile(t, path, "")
			r := run(t, file.SourceConfig{Paths: []string{filepath.Join(dir, tc.glob)}, StartAt: "beginning"}, true)
			const n = 30000
			want := writeLines(t, path, "l", n, func(i int) {
				// A polling source finds a file at its next scan: rotate
				// it only once it is being read, as hours of logging
				// between rotations allow.
				first := fmt.Sprintf("l-%06d ", i-n/3)
				waitCond(t, "the file's first line", func() bool { return r.has(first) })
				tc.rotate(t, path, i)
			})
			if !waitFor(func() bool { return r.count() >= n }) {
				t.Errorf("timed out waiting for every line")
			}
			r.stop(t)
			checkExactlyOnce(t, r.raws(), want)
		})
	}
}

// TestSourceRewrittenPastOffset: a copytruncate while the source is behind,
// after which the file is written past the offset read so far before the
// source reads again. The new content must not be taken for the rest of
// the old: the old lines come from the copy, the new from the file's start.
func TestSourceRewrittenPastOffset(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	// Short lines: the first 64 KiB read holds more than the source's queue,
	// so, with nothing received, the source stops in the middle of it.
	old := numbered("o", 10000, 0)
	appendFile(t, path, strings.Join(old, "\n")+"\n")
	r := runPaused(t, file.SourceConfig{Paths: []string{filepath.Join(dir, "app.log*")}, StartAt: "beginning"}, true)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "copy.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	fresh := numbered("new", 20000, 40) // in one write, well past the old offset
	appendFile(t, path, strings.Join(fresh, "\n")+"\n")
	close(r.receive)
	want := append(old, fresh...)
	if !waitFor(func() bool { return r.count() >= len(want) }) {
		t.Errorf("timed out waiting for every line")
	}
	r.stop(t)
	checkExactlyOnce(t, r.raws(), want)
}

// numbered returns n distinct lines prefix000000 ... padded with up to pad
// bytes.
func numbered(prefix string, n, pad int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%06d%s", prefix, i, strings.Repeat("p", i%(pad+1)))
	}
	return out
}

func TestSourceDeletedWhileRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	want := writeLines(t, path, "d", 20000, nil) // more than the queue holds
	state := filepath.Join(dir, "state")
	r := run(t, file.SourceConfig{Paths: []string{path}, StartAt: "beginning", StateDir: state}, false)
	r.waitN(t, 100)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	acks := slices.Clone(r.acks)
	r.mu.Unlock()
	for _, a := range acks {
		a()
	}
	// From now on ack everything that arrives.
	waitCond(t, "every line of the deleted file", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, a := range r.acks {
			a()
		}
		return len(r.evs) >= len(want)
	})
	waitCond(t, "the deleted file's checkpoint to be dropped", func() bool {
		b, err := os.ReadFile(filepath.Join(state, "checkpoints.json"))
		if err != nil {
			return false
		}
		var st struct{ Files []json.RawMessage }
		return json.Unmarshal(b, &st) == nil && len(st.Files) == 0
	})
	r.stop(t)
	checkExactlyOnce(t, r.raws(), want)
}

func TestSourceManyFiles(t *testing.T) {
	dir := t.TempDir()
	r := run(t, file.SourceConfig{Paths: []string{filepath.Join(dir, "*.log")}, StartAt: "beginning"}, true)
	var want []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			w := writeLines(t, filepath.Join(dir, fmt.Sprintf("f%02d.log", i)), fmt.Sprintf("f%02d", i), 200, nil)
			mu.Lock()
			want = append(want, w...)
			mu.Unlock()
		})
	}
	wg.Wait()
	r.waitN(t, len(want))
	r.stop(t)
	got := r.raws()
	checkExactlyOnce(t, got, want)
	// Each file's lines arrive in order.
	last := map[string]string{}
	for _, g := range got {
		f := g[:3]
		if g < last[f] {
			t.Fatalf("%q after %q", g, last[f])
		}
		last[f] = g
	}
}

func TestSourceRestartResumes(t *testing.T) {
	cases := []struct {
		name      string
		acked     func(i int) bool // which of the 1000 lines the first run acks
		wantFirst int              // the first line the second run reads
	}{
		{"prefix acked", func(i int) bool { return i < 600 }, 600},
		{"hole", func(i int) bool { return i < 600 && i != 300 }, 300},
		{"nothing acked", func(int) bool { return false }, 0},
		{"all acked", func(int) bool { return true }, 1000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			want := writeLines(t, path, "r", 1000, nil)
			cfg := file.SourceConfig{Paths: []string{path}, StartAt: "beginning", StateDir: filepath.Join(dir, "state")}
			r1 := run(t, cfg, false)
			r1.waitN(t, 1000)
			r1.mu.Lock()
			for i, a := range r1.acks {
				if tc.acked(i) {
					a()
				}
			}
			r1.mu.Unlock()
			r1.stop(t)

			appendFile(t, path, "after\n")
			r2 := run(t, cfg, true)
			r2.waitN(t, 1000-tc.wantFirst+1)
			r2.stop(t)
			got := r2.raws()
			if w := append(slices.Clone(want[tc.wantFirst:]), "after"); !slices.Equal(got, w) {
				t.Fatalf("second run: got %d lines starting %q, want %d starting %q", len(got), first(got), len(w), first(w))
			}
		})
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// TestSourceCheckpointAtomic: a crash between writing the temporary file
// and renaming it leaves a stray temporary file; the checkpoint file is
// still the old, valid one, and the stray file is removed.
func TestSourceCheckpointAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	state := filepath.Join(dir, "state")
	want := writeLines(t, path, "c", 100, nil)
	cfg := file.SourceConfig{Paths: []string{path}, StartAt: "beginning", StateDir: state}
	r1 := run(t, cfg, true)
	r1.waitN(t, 100)
	r1.stop(t)

	stray := filepath.Join(state, "checkpoints.json.tmp-12345")
	if err := os.WriteFile(stray, []byte(`{"version":1,"files":[{"fingerp`), 0o644); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "more\n")
	r2 := run(t, cfg, true)
	r2.waitN(t, 1)
	r2.stop(t)
	if got := r2.raws(); !slices.Equal(got, []string{"more"}) {
		t.Errorf("after restart: got %q, want [more] (first run read %d lines)", got, len(want))
	}
	if _, err := os.Stat(stray); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stray temporary file still there: %v", err)
	}
}

// TestSourceCorruptCheckpoint: a damaged checkpoint file stops Run with an
// error rather than reading every file again or skipping them.
func TestSourceCorruptCheckpoint(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "checkpoints.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := file.NewSource(file.SourceConfig{Paths: []string{filepath.Join(dir, "*.log")}, StateDir: dir}, "x")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "checkpoints.json") {
		t.Errorf("Run: got %v, want an error naming checkpoints.json", err)
	}
	if _, _, err := s.Recv(t.Context()); !errors.Is(err, io.EOF) {
		t.Errorf("Recv after a failed Run: got %v, want io.EOF", err)
	}
}

func TestSourceConfigErrors(t *testing.T) {
	cases := []struct {
		cfg  file.SourceConfig
		want string
	}{
		{file.SourceConfig{StateDir: "s"}, "paths: required: at least one pattern"},
		{file.SourceConfig{Paths: []string{"["}, StateDir: "s"}, `paths[0]: want a glob, got "["`},
		{file.SourceConfig{Paths: []string{"a"}, StartAt: "middle", StateDir: "s"}, `startAt: want end or beginning, got "middle"`},
		{file.SourceConfig{Paths: []string{"a"}, Multiline: &file.MultilineConfig{StartPattern: "("}, StateDir: "s"}, "multiline.startPattern"},
		{file.SourceConfig{Paths: []string{"a"}}, "file source: stateDir: required"},
		{file.SourceConfig{Paths: []string{"a"}, MaxLineBytes: -1, StateDir: "s"}, "maxLineBytes: want at least 1, got -1"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			_, err := file.NewSource(tc.cfg, "x")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestSourceRunTwice(t *testing.T) {
	dir := t.TempDir()
	s, err := file.NewSource(file.SourceConfig{Paths: []string{filepath.Join(dir, "*.log")}, StateDir: dir}, "x")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitCond(t, "the first checkpoint", func() bool {
		_, err := os.Stat(filepath.Join(dir, "checkpoints.json"))
		return err == nil
	})
	if err := s.Run(ctx); !errors.Is(err, sluice.ErrAlreadyRunning) {
		t.Errorf("second Run: got %v, want ErrAlreadyRunning", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
