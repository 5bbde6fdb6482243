package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/metrictest"
)

// fileSourceConfig is a sluiced config tailing glob (startAt left at its
// default, "end") into outPath, with the admin listener on adminPort when
// it is not 0.
func fileSourceConfig(dir, glob, outPath, checkpointInterval string, adminPort int) string {
	admin := ""
	if adminPort != 0 {
		admin = fmt.Sprintf(`"admin": {"addr": "127.0.0.1:%d"},`, adminPort)
	}
	return fmt.Sprintf(`{
		"dataDir": %q,
		%s
		"shutdownTimeout": "10s",
		"sources": {"log": {"type": "file", "paths": [%q], "pollInterval": "20ms", "checkpointInterval": %q}},
		"destinations": {"out": {"type": "file", "path": %q, "maxBytes": 0,
			"batch": {"count": 256, "age": "20ms", "parallelism": 1}}},
	}`, filepath.Join(dir, "data"), admin, glob, checkpointInterval, outPath)
}

// appendSeqs appends lines seq=from .. seq=to-1 to the file at path.
func appendSeqs(t *testing.T, path string, from, to int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b []byte
	for s := from; s < to; s++ {
		b = fmt.Appendf(b, "seq=%010d %s\n", s, strings.Repeat("y", 60))
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

// stateEntries reads the file source's checkpoint file under dataDir.
func stateEntries(t *testing.T, dataDir string) []stateEntry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "state", "log", "checkpoints.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ Files []stateEntry }
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st.Files
}

type stateEntry struct {
	Fingerprint    string `json:"fingerprint"`
	FingerprintLen int    `json:"fingerprintLen"`
	Offset         int64  `json:"offset"`
	Path           string `json:"path"`
}

// checkAll fails t unless out holds every seq of [from, to) and nothing
// else.
func checkAll(t *testing.T, out *seqs, from, to int64) {
	t.Helper()
	missing := 0
	for s := from; s < to; s++ {
		if !out.seen[s] {
			missing++
		}
	}
	extra := len(out.seen) - int(to-from) + missing
	if missing > 0 || extra > 0 {
		t.Fatalf("%d of %d lines missing, %d lines that should not have been read", missing, to-from, extra)
	}
}

// TestFileSourceNewFileThenKill creates a file right after a checkpoint
// write, lets sluiced deliver its lines, and kills it (SIGKILL) before the
// next tick: the file must already be in the checkpoint file, at offset
// 0, so that the restart (startAt "end") reads it again from its start
// with what was appended meanwhile, rather than skipping it as a file
// found at the first start.
func TestFileSourceNewFileThenKill(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	must(t, os.MkdirAll(logs, 0o755))
	outPath := filepath.Join(dir, "out.ndjson")
	appendSeqs(t, filepath.Join(logs, "old.log"), -100, -50) // before the first start: skipped
	// A long interval: no tick comes between the file's creation and the kill.
	config := fileSourceConfig(dir, filepath.Join(logs, "*.log"), outPath, "1h", 0)
	d := start(t, dir, config)
	ckpt := filepath.Join(dir, "data", "state", "log", "checkpoints.json")
	waitFor(t, "the first checkpoint write", func() bool { _, err := os.Stat(ckpt); return err == nil })

	newPath := filepath.Join(logs, "new.log")
	appendSeqs(t, newPath, 0, 1000)
	out := &seqs{path: outPath, parse: fileLineSeq}
	waitFor(t, "the new file's lines", func() bool { out.read(t); return len(out.seen) >= 1000 })
	d.kill()
	var rec *stateEntry
	for _, e := range stateEntries(t, filepath.Join(dir, "data")) {
		if e.Path == newPath {
			rec = &e
		}
	}
	if rec == nil || rec.Offset != 0 {
		t.Fatalf("killed after the new file's lines were delivered: its checkpoint is %+v, want one at offset 0", rec)
	}

	appendSeqs(t, newPath, 1000, 1500)                         // while sluiced is down
	appendSeqs(t, filepath.Join(logs, "down.log"), 1500, 2000) // a file created while down
	appendSeqs(t, filepath.Join(logs, "old.log"), 2000, 2100)  // the known file grows
	d = start(t, dir, config)
	waitForLong(t, "every line", 30*time.Second, func() bool { out.read(t); return len(out.seen) >= 2100 })
	d.stop(t)
	out.read(t)
	checkAll(t, out, 0, 2100)
	if out.dups != 1000 {
		t.Errorf("%d duplicates; want the 1000 lines delivered before the kill, whose offsets were not written", out.dups)
	}
}

// TestFileSourceRotatedWhileStopped rotates app.log as logrotate does
// (rename, then a new app.log) while sluiced is stopped: the new app.log is
// read from its beginning, and the old file's last lines from app.log.1.
func TestFileSourceRotatedWhileStopped(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	must(t, os.MkdirAll(logs, 0o755))
	outPath := filepath.Join(dir, "out.ndjson")
	app := filepath.Join(logs, "app.log")
	appendSeqs(t, app, -100, 0) // before the first start: skipped
	config := fileSourceConfig(dir, app+"*", outPath, "1s", 0)
	d := start(t, dir, config)
	ckpt := filepath.Join(dir, "data", "state", "log", "checkpoints.json")
	waitFor(t, "the first checkpoint write", func() bool { _, err := os.Stat(ckpt); return err == nil })
	appendSeqs(t, app, 0, 1000)
	out := &seqs{path: outPath, parse: fileLineSeq}
	waitFor(t, "the first lines", func() bool { out.read(t); return len(out.seen) >= 1000 })
	d.stop(t)

	appendSeqs(t, app, 1000, 1200) // the last lines of the old file
	must(t, os.Rename(app, app+".1"))
	appendSeqs(t, app, 1200, 3000)
	d = start(t, dir, config)
	waitForLong(t, "every line", 30*time.Second, func() bool { out.read(t); return len(out.seen) >= 3000 })
	d.stop(t)
	out.read(t)
	checkAll(t, out, 0, 3000)
	if out.dups != 0 {
		t.Errorf("%d duplicates after clean stops", out.dups)
	}
}

// TestFileSourceCheckpointUnwritable makes the file source's state
// directory unwritable while sluiced runs, in the ways a host does: a
// read-only file system (EROFS), a full one (ENOSPC), a directory replaced
// by a file (ENOTDIR). The failed writes are counted in /metrics, /readyz
// answers 503 naming the source, a file created meanwhile waits, and all
// recovers once the directory is writable again, without a lost line.
func TestFileSourceCheckpointUnwritable(t *testing.T) {
	cases := []struct {
		name string
		// setup prepares stateDir before sluiced starts (it is empty);
		// break makes it unwritable and returns what restores it.
		setup  func(t *testing.T, stateDir string)
		break_ func(t *testing.T, stateDir string) (restore func())
		errno  string
	}{
		{"read-only file system", func(t *testing.T, stateDir string) {
			mount(t, "--bind", stateDir, stateDir)
		}, func(t *testing.T, stateDir string) func() {
			mount(t, "-o", "remount,bind,ro", stateDir)
			return func() { mount(t, "-o", "remount,bind,rw", stateDir) }
		}, "read-only file system"},
		{"full file system", func(t *testing.T, stateDir string) {
			mount(t, "-t", "tmpfs", "-o", "size=256k", "tmpfs", stateDir)
		}, func(t *testing.T, stateDir string) func() {
			filler := filepath.Join(stateDir, "filler")
			f, err := os.Create(filler)
			must(t, err)
			buf := make([]byte, 4096)
			for {
				if _, err := f.Write(buf); err != nil {
					break // ENOSPC
				}
			}
			f.Close()
			return func() { must(t, os.Remove(filler)) }
		}, "no space left on device"},
		{"directory replaced by a file", nil, func(t *testing.T, stateDir string) func() {
			must(t, os.Rename(stateDir, stateDir+".away"))
			must(t, os.WriteFile(stateDir, nil, 0o644))
			return func() {
				must(t, os.Remove(stateDir))
				must(t, os.Rename(stateDir+".away", stateDir))
			}
		}, "not a directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			logs := filepath.Join(dir, "logs")
			must(t, os.MkdirAll(logs, 0o755))
			stateDir := filepath.Join(dir, "data", "state", "log")
			must(t, os.MkdirAll(stateDir, 0o755))
			if tc.setup != nil {
				tc.setup(t, stateDir)
			}
			outPath := filepath.Join(dir, "out.ndjson")
			adminPort := freePort(t)
			d := start(t, dir, fileSourceConfig(dir, filepath.Join(logs, "*.log"), outPath, "50ms", adminPort))
			readyz := func() (int, string) {
				resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", adminPort))
				if err != nil {
					return 0, err.Error()
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			waitFor(t, "ready", func() bool { c, _ := readyz(); return c == 200 })
			appendSeqs(t, filepath.Join(logs, "a.log"), 0, 100)
			out := &seqs{path: outPath, parse: fileLineSeq}
			waitFor(t, "the first lines", func() bool { out.read(t); return len(out.seen) >= 100 })

			restore := tc.break_(t, stateDir)
			var body string
			waitFor(t, "/readyz to fail", func() bool {
				var c int
				c, body = readyz()
				return c == http.StatusServiceUnavailable
			})
			if !strings.Contains(body, "source log: checkpoint") || !strings.Contains(body, tc.errno) {
				t.Errorf("/readyz says %q; want the source and %q", body, tc.errno)
			}
			series := `sluice_errors_total{cause="checkpoint",kind="source",name="log"}`
			metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", adminPort)
			n := metrictest.Value(t, metrics, series)
			waitFor(t, "the error count to grow", func() bool { return metrictest.Value(t, metrics, series) >= n+3 })
			appendSeqs(t, filepath.Join(logs, "a.log"), 100, 200) // a known file is read on
			appendSeqs(t, filepath.Join(logs, "b.log"), 200, 300) // a new one waits
			waitFor(t, "the known file's lines", func() bool { out.read(t); return len(out.seen) >= 200 })
			time.Sleep(300 * time.Millisecond) // six intervals: would the new file's lines come?
			out.read(t)
			if len(out.seen) != 200 {
				t.Errorf("while the checkpoint cannot be written: %d lines delivered; want the new file's held back", len(out.seen))
			}

			restore()
			waitFor(t, "/readyz to recover", func() bool { c, _ := readyz(); return c == 200 })
			waitFor(t, "every line", func() bool { out.read(t); return len(out.seen) >= 300 })
			d.stop(t)
			out.read(t)
			checkAll(t, out, 0, 300)
			if !strings.Contains(d.logs.String(), "checkpoint written again") {
				t.Errorf("no log line says the checkpoint recovered")
			}
		})
	}
}

// mount runs mount(8) with args and unmounts the target (the last
// argument) at cleanup. Without the privilege to mount, the test is
// skipped, or fails under SLUICE_E2E=1.
func mount(t *testing.T, args ...string) {
	t.Helper()
	target := args[len(args)-1]
	out, err := exec.Command(need(t, "mount"), args...).CombinedOutput()
	// Remounting read-only fails with EBUSY while sluiced holds a file
	// open for writing there (a checkpoint being written): try again.
	for i := 0; err != nil && bytes.Contains(out, []byte("busy")) && i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
		out, err = exec.Command(need(t, "mount"), args...).CombinedOutput()
	}
	if err != nil {
		msg := fmt.Sprintf("mount %s: %v: %s", strings.Join(args, " "), err, out)
		if os.Getenv("SLUICE_E2E") == "1" {
			t.Fatal(msg + " (SLUICE_E2E=1 requires the privilege to mount)")
		}
		t.Skip(msg + "; set SLUICE_E2E=1 to make this a failure")
	}
	if strings.HasPrefix(args[0], "-o") && strings.Contains(args[1], "remount") {
		return
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(target, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", target, err)
		}
	})
}
