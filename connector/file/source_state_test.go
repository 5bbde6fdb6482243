package file_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/file"
)

// checkpointEntry is one file of checkpoints.json.
type checkpointEntry struct {
	Fingerprint    string `json:"fingerprint"`
	FingerprintLen int    `json:"fingerprintLen"`
	Offset         int64  `json:"offset"`
	Path           string `json:"path"`
}

func readCheckpoint(t *testing.T, stateDir string) []checkpointEntry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stateDir, "checkpoints.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ Files []checkpointEntry }
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st.Files
}

// recordOf returns the entry of checkpoints.json whose fingerprint is that
// of content's first bytes, if any.
func recordOf(entries []checkpointEntry, content string) (checkpointEntry, bool) {
	for _, e := range entries {
		if e.FingerprintLen < 1 || e.FingerprintLen > len(content) {
			continue
		}
		h := sha256.Sum256([]byte(content[:e.FingerprintLen]))
		if hex.EncodeToString(h[:]) == e.Fingerprint {
			return e, true
		}
	}
	return checkpointEntry{}, false
}

// copyDir copies the regular files of dir to a new directory: the state
// a crash at this moment would leave (they are written atomically).
func copyDir(t *testing.T, dir string) string {
	t.Helper()
	to := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// TestSourceNewFileRecordedFirst creates the moment of a crash between a
// new identity's first line being handed on and the next checkpoint tick
// (the interval is an hour here, so no tick comes): the checkpoint file
// must already hold the identity at offset 0, and a source started on that
// state (with StartAt "end") must read the whole file, including what was
// appended "while it was down".
func TestSourceNewFileRecordedFirst(t *testing.T) {
	cases := []struct {
		name string
		// before runs before the source starts, make after the first scan;
		// make returns the content of the new identity.
		before func(t *testing.T, path string)
		make   func(t *testing.T, path string) string
	}{
		{"created after the first scan", nil, func(t *testing.T, path string) string {
			c := strings.Join(numbered("new", 50, 30), "\n") + "\n"
			appendFile(t, path, c)
			return c
		}},
		{"empty at the first scan, then written", func(t *testing.T, path string) { appendFile(t, path, "") },
			func(t *testing.T, path string) string {
				c := strings.Join(numbered("late", 50, 30), "\n") + "\n"
				appendFile(t, path, c)
				return c
			}},
		{"truncated and written again", func(t *testing.T, path string) {
			appendFile(t, path, strings.Join(numbered("old", 50, 30), "\n")+"\n")
		}, func(t *testing.T, path string) string {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			c := strings.Join(numbered("cut", 20, 0), "\n") + "\n"
			appendFile(t, path, c)
			return c
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			state := filepath.Join(dir, "state")
			if tc.before != nil {
				tc.before(t, path)
			}
			// "beginning" only so that the old lines of the truncated case
			// are read first; the restart below uses "end".
			cfg := file.SourceConfig{Paths: []string{path}, StartAt: "beginning", StateDir: state, CheckpointInterval: time.Hour}
			r := runPaused(t, cfg, true)
			// Receive what was there, then make the new identity.
			close(r.receive)
			old := 0
			if tc.name == "truncated and written again" {
				old = 50
				r.waitN(t, old)
			}
			content := tc.make(t, path)
			r.waitN(t, old+1) // the new identity's first line is handed on
			e, ok := recordOf(readCheckpoint(t, state), content)
			if !ok || e.Offset != 0 {
				t.Fatalf("when its first line was handed on, the checkpoint file held %+v, %v; want the new file at offset 0", e, ok)
			}
			crashed := copyDir(t, state)
			r.stop(t)

			appendFile(t, path, "while down\n")
			want := append(strings.Split(strings.TrimSuffix(content, "\n"), "\n"), "while down")
			cfg.StateDir, cfg.StartAt, cfg.CheckpointInterval = crashed, "end", 0
			r2 := run(t, cfg, true)
			r2.waitN(t, len(want))
			r2.stop(t)
			checkExactlyOnce(t, r2.raws(), want)
		})
	}
}

// TestSourceStoppedRotation: files rotated (or created) while the source
// is stopped are new, read from their beginning, though StartAt is "end";
// StartAt "end" applies only at the very first start.
func TestSourceStoppedRotation(t *testing.T) {
	cases := []struct {
		name     string
		glob     string
		tailRead bool // the lines appended to the old file while stopped are read (from app.log.1)
	}{
		{"rotated names matched", "app.log*", true},
		{"only app.log matched", "app.log", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			appendFile(t, path, "before the first start\n")
			cfg := file.SourceConfig{Paths: []string{filepath.Join(dir, tc.glob)}, StateDir: filepath.Join(dir, "state")}
			r1 := run(t, cfg, true)
			first := numbered("first", 100, 20)
			appendFile(t, path, strings.Join(first, "\n")+"\n")
			r1.waitN(t, len(first))
			r1.stop(t)
			checkExactlyOnce(t, r1.raws(), first) // without "before the first start"

			// While stopped: the old file gets its last lines and is
			// rotated, a new app.log is written, and another file appears.
			tail := numbered("tail", 10, 0)
			appendFile(t, path, strings.Join(tail, "\n")+"\n")
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			fresh := numbered("fresh", 100, 20)
			appendFile(t, path, strings.Join(fresh, "\n")+"\n")
			want := fresh
			if tc.tailRead {
				other := numbered("other", 5, 0)
				appendFile(t, filepath.Join(dir, "app.log-other"), strings.Join(other, "\n")+"\n")
				want = slices.Concat(tail, fresh, other)
			}
			r2 := run(t, cfg, true)
			r2.waitN(t, len(want))
			time.Sleep(50 * time.Millisecond) // ten polls: would anything else come?
			r2.stop(t)
			checkExactlyOnce(t, r2.raws(), want)
		})
	}
}

// counts is a file.Counters that counts by cause.
type counts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counts) Error(cause string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[cause]++
}

func (c *counts) get(cause string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[cause]
}

// TestSourceCheckpointWriteFails replaces the state directory by a file
// while the source runs, so that every checkpoint write fails (ENOTDIR):
// the failures are counted and reported by Health, a file created
// meanwhile is not read (its record cannot be written first), and all
// recovers once the directory is back.
func TestSourceCheckpointWriteFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	state := filepath.Join(dir, "state")
	c := &counts{}
	r := startSource(t, file.SourceConfig{Paths: []string{filepath.Join(dir, "*.log")}, StateDir: state}, true, false,
		file.WithSourceCounters(c))
	appendFile(t, path, "one\n")
	r.waitN(t, 1)
	if why := r.src.NotReady(); why != "" {
		t.Fatalf("NotReady before the failure: %s", why)
	}

	if err := os.Rename(state, state+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "three failed writes", func() bool { return c.get("checkpoint") >= 3 })
	if why := r.src.NotReady(); !strings.Contains(why, "checkpoint") {
		t.Fatalf("NotReady while writes fail: %q", why)
	}
	appendFile(t, path, "two\n") // a known file is read on
	appendFile(t, filepath.Join(dir, "b.log"), "new file\n")
	r.waitN(t, 2)
	n := c.get("checkpoint")
	waitCond(t, "more failed writes", func() bool { return c.get("checkpoint") >= n+3 })
	if got := r.raws(); !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("while writes fail: got %q; want the new file held back", got)
	}

	if err := os.Remove(state); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(state+".away", state); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "Health to recover", func() bool { return r.src.NotReady() == "" })
	r.waitN(t, 3)
	if got := r.raws(); got[2] != "new file" {
		t.Fatalf("after recovery: got %q", got)
	}
	if _, ok := recordOf(readCheckpoint(t, state), "new file\n"); !ok {
		t.Errorf("the new file is not in the checkpoint file after recovery")
	}
}

// TestSourceKnownFileLateAtStart creates the moment of a restart in the
// middle of a copytruncate: the checkpoint file knows app.log's content,
// but when the first scan lists the directory, app.log already holds new
// content and the copy is not there yet. The checkpoint of the old content
// must survive that scan (a crash right after it must not lose it), and
// the copy, renamed in after it, must resume from it rather than be read
// again from its start. A checkpoint whose file never comes back is
// dropped after the grace period.
func TestSourceKnownFileLateAtStart(t *testing.T) {
	for _, comes := range []bool{true, false} {
		t.Run(map[bool]string{true: "the copy comes", false: "no file comes"}[comes], func(t *testing.T) {
			dir := t.TempDir()
			logs := filepath.Join(dir, "logs")
			if err := os.Mkdir(logs, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(logs, "app.log")
			state := filepath.Join(dir, "state")
			old := strings.Join(numbered("old", 200, 30), "\n") + "\n"
			appendFile(t, path, old)
			cfg := file.SourceConfig{Paths: []string{filepath.Join(logs, "*")}, StartAt: "beginning", StateDir: state}
			r := run(t, cfg, true)
			r.waitN(t, 200)
			r.stop(t)
			if e, ok := recordOf(readCheckpoint(t, state), old); !ok || e.Offset != int64(len(old)) {
				t.Fatalf("after a clean stop the checkpoint file held %+v, %v; want the old content at its end", e, ok)
			}

			// Stopped: the copy is made outside the globs, app.log is
			// truncated and written again.
			tmp := filepath.Join(dir, "copy.tmp")
			if err := os.WriteFile(tmp, []byte(old), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			fresh := numbered("new", 100, 30)
			appendFile(t, path, strings.Join(fresh, "\n")+"\n")

			ckpt := filepath.Join(state, "checkpoints.json")
			before, err := os.Stat(ckpt)
			if err != nil {
				t.Fatal(err)
			}
			cfg.CheckpointInterval = time.Hour // no tick: only the first scan's write and those of new identities
			r2 := run(t, cfg, true)
			r2.waitN(t, len(fresh)) // app.log's new content was found, recorded and read
			if fi, err := os.Stat(ckpt); err != nil || os.SameFile(fi, before) {
				t.Fatalf("the checkpoint file was not written after the first scan: %v", err)
			}
			if e, ok := recordOf(readCheckpoint(t, state), old); !ok || e.Offset != int64(len(old)) {
				t.Fatalf("after the first scan the checkpoint file held %+v, %v; want the old content at its end (a crash now would read the copy again)", e, ok)
			}
			if comes {
				if err := os.Rename(tmp, path+".1"); err != nil {
					t.Fatal(err)
				}
				appendFile(t, path, "after the copy\n")
				r2.waitN(t, len(fresh)+1)
				r2.stop(t)
				checkExactlyOnce(t, r2.raws(), append(fresh, "after the copy"))
				if e, ok := recordOf(readCheckpoint(t, state), old); !ok || e.Offset != int64(len(old)) || e.Path != path+".1" {
					t.Errorf("at the stop the checkpoint file held %+v, %v; want the copy at its end", e, ok)
				}
				return
			}
			// Each new file is recorded at once: the entry goes with the
			// first write after the grace period (1s here).
			deadline := time.Now().Add(10 * time.Second)
			for n := 0; ; n++ {
				if _, ok := recordOf(readCheckpoint(t, state), old); !ok {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the checkpoint of a file that never came back was kept")
				}
				appendFile(t, filepath.Join(logs, fmt.Sprintf("other-%d.log", n)), fmt.Sprintf("other %d\n", n))
				time.Sleep(100 * time.Millisecond)
			}
			r2.stop(t)
		})
	}
}
