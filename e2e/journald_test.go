package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestJournaldKillRestart runs a real systemd-journald in a private mount
// namespace (a tmpfs over /run, with its journal and sockets bound to
// directories of the test), writes numbered entries into it with
// systemd-cat, and reads them with sluiced's journald source
// (journalctl --directory) into a file, SIGKILLing sluiced at random
// moments. Cursors are saved every 50ms, so after every restart sluiced
// resumes near where it was killed: at the end no entry may be missing;
// duplicates (entries delivered again after a kill) are counted and
// reported.
func TestJournaldKillRestart(t *testing.T) {
	dir := t.TempDir()
	logs, write := journald(t, dir)
	out := filepath.Join(dir, "out.ndjson")
	config := fmt.Sprintf(`{
		"dataDir": %q,
		"sources": {"j": {"type": "journald", "directory": %q, "startAt": "beginning", "checkpointInterval": "50ms"}},
		"destinations": {"out": {"type": "file", "path": %q, "batch": {"age": "20ms"}}},
	}`, filepath.Join(dir, "data"), logs, out)

	// The writer: N entries, in bursts, while sluiced is killed and started.
	const n, burst = 3000, 50
	tag := fmt.Sprintf("sluice-e2e-%d", rand.Uint32())
	written := make(chan error, 1)
	go func() {
		for i := 0; i < n; i += burst {
			var b strings.Builder
			for j := i; j < min(n, i+burst); j++ {
				fmt.Fprintf(&b, "entry %d\n", j)
			}
			if err := write(tag, b.String()); err != nil {
				written <- err
				return
			}
			time.Sleep(60 * time.Millisecond)
		}
		written <- nil
	}()

	const cycles = 6
	for c := range cycles {
		d := start(t, dir, config)
		time.Sleep(time.Duration(100+rand.IntN(500)) * time.Millisecond)
		_ = d.cmd.Process.Signal(syscall.SIGKILL)
		<-d.done
		d.done <- nil
		t.Logf("cycle %d: killed sluiced with %d entries in the file", c+1, len(journaldEntries(t, out, tag).seen))
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	d := start(t, dir, config)
	waitFor(t, "every entry in the file", func() bool { return len(journaldEntries(t, out, tag).seen) == n })
	d.stop(t)

	got := journaldEntries(t, out, tag)
	var missing []int
	for i := range n {
		if got.seen[i] == 0 {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d entries missing after %d SIGKILLs, first %v", len(missing), n, cycles, missing[:min(10, len(missing))])
	}
	t.Logf("%d entries, %d SIGKILLs: %d delivered more than once (%d extra copies), %d torn lines", n, cycles, got.dupEntries, got.dupCopies, got.torn)
	if got.fields == 0 {
		t.Errorf("no entry had the journal's fields (syslog.appName %q, _PID, __CURSOR)", tag)
	}
}

// TestJournaldStartAtEndKill creates the moment the default startAt "end"
// is dangerous: sluiced's first start, its entries delivered and acked,
// SIGKILLed before any checkpoint (checkpointInterval 1h), entries written
// while it is down. The end it started at must have been saved before it
// handed on an entry: the restart resumes there and reads the entries
// written while it was down (those delivered before the kill come again),
// rather than starting at the journal's new end and skipping them.
func TestJournaldStartAtEndKill(t *testing.T) {
	dir := t.TempDir()
	logs, write := journald(t, dir)
	tag := fmt.Sprintf("sluice-e2e-%d", rand.Uint32())
	if err := write(tag, entryLines(1000, 1010)); err != nil { // before the first start: not read
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.ndjson")
	config := fmt.Sprintf(`{
		"dataDir": %q,
		"sources": {"j": {"type": "journald", "directory": %q, "checkpointInterval": "1h"}},
		"destinations": {"out": {"type": "file", "path": %q, "batch": {"age": "20ms"}}},
	}`, filepath.Join(dir, "data"), logs, out)
	delivered := func(from, to int) func() bool {
		return func() bool {
			seen := journaldEntries(t, out, tag).seen
			for i := from; i < to; i++ {
				if seen[i] == 0 {
					return false
				}
			}
			return true
		}
	}

	d := start(t, dir, config)
	waitFor(t, "sluiced to follow the journal", func() bool { return strings.Contains(d.logs.String(), "following the journal") })
	if err := write(tag, entryLines(0, 50)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "entries 0-49 in the file", delivered(0, 50))
	d.kill()
	if err := write(tag, entryLines(50, 100)); err != nil { // while sluiced is down
		t.Fatal(err)
	}
	d = start(t, dir, config)
	if err := write(tag, entryLines(100, 101)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "entry 100 in the file", delivered(100, 101))
	d.stop(t)

	got := journaldEntries(t, out, tag)
	var missing []int
	for i := range 101 {
		if got.seen[i] == 0 {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d entries missing after a SIGKILL before the first checkpoint (startAt end), first %v", len(missing), missing[:min(10, len(missing))])
	}
	for i := 1000; i < 1010; i++ {
		if got.seen[i] > 0 {
			t.Errorf("entry %d, written before the first start, was read with startAt end", i)
			break
		}
	}
	t.Logf("%d entries delivered more than once (%d extra copies)", got.dupEntries, got.dupCopies)
}

// TestJournaldStartAtEndUnlearned: a first start at the end whose
// journalctl --lines=1 fails (a wrapper fails it while a file exists;
// every other call runs the real journalctl) reads nothing while it asks
// again, and /readyz answers 503 with journalctl's error meanwhile. Once
// it answers, the source saves that end and follows: /readyz answers 200
// and the entries written after it arrive, none of those before.
func TestJournaldStartAtEndUnlearned(t *testing.T) {
	dir := t.TempDir()
	logs, write := journald(t, dir)
	jctl := need(t, "journalctl")
	deny, calls := filepath.Join(dir, "deny"), filepath.Join(dir, "calls")
	wrapper := filepath.Join(dir, "journalctl")
	script := fmt.Sprintf(`#!/bin/sh
case " $* " in *" --lines=1 "*)
	echo >>%q
	if [ -e %q ]; then echo "journal not readable (test)" >&2; exit 1; fi;;
esac
exec %q "$@"
`, calls, deny, jctl)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(deny, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("sluice-e2e-%d", rand.Uint32())
	if err := write(tag, entryLines(1000, 1010)); err != nil { // before the first start: not read
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.ndjson")
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	d := start(t, dir, fmt.Sprintf(`{
		"dataDir": %q,
		"admin": {"addr": %q},
		"sources": {"j": {"type": "journald", "journalctl": %q, "directory": %q, "restart": {"initial": "50ms", "max": "200ms"}}},
		"destinations": {"out": {"type": "file", "path": %q, "batch": {"age": "20ms"}}},
	}`, filepath.Join(dir, "data"), admin, wrapper, logs, out))
	const unready = `not ready: source j: startAt "end": journalctl did not tell where the journal ends, so nothing is read until it does: `
	waitFor(t, "/readyz to give journalctl's error", func() bool {
		code, body := readyz(t, admin)
		return code == 503 && strings.HasPrefix(body, unready) && strings.Contains(body, "journal not readable (test)")
	})
	if err := write(tag, entryLines(0, 20)); err != nil {
		t.Fatal(err)
	}
	asked := func() int { b, _ := os.ReadFile(calls); return len(b) }
	n := asked()
	waitFor(t, "journalctl --lines=1 to be asked again after the entries", func() bool { return asked() > n })
	if got := journaldEntries(t, out, tag).seen; len(got) > 0 {
		t.Errorf("%d entries in the file before the end was learned", len(got))
	}
	if code, body := readyz(t, admin); code != 503 || !strings.HasPrefix(body, unready) {
		t.Errorf("/readyz = %d %q while journalctl fails, want 503 %q...", code, body, unready)
	}

	if err := os.Remove(deny); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/readyz to answer 200", func() bool { code, _ := readyz(t, admin); return code == 200 })
	waitFor(t, "sluiced to follow the journal", func() bool { return strings.Contains(d.logs.String(), "following the journal") })
	if err := write(tag, entryLines(20, 30)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "entries 20-29 in the file", func() bool {
		seen := journaldEntries(t, out, tag).seen
		for i := 20; i < 30; i++ {
			if seen[i] == 0 {
				return false
			}
		}
		return true
	})
	d.stop(t)
	for i, c := range journaldEntries(t, out, tag).seen {
		if i < 20 || i >= 1000 {
			t.Errorf("entry %d (%d copies), written before the end was learned, was read with startAt end", i, c)
		}
	}
	t.Logf("journalctl --lines=1 asked %d times", asked())
}

// entryLines returns the lines "entry N" for N from from to to-1.
func entryLines(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "entry %d\n", i)
	}
	return b.String()
}

// journald starts a real systemd-journald in a private mount namespace (a
// tmpfs over /run, with its journal and sockets bound to directories of
// dir), and returns its journal directory and a function that writes
// lines into it with systemd-cat under a tag. It skips the test where
// systemd-journald, its tools or root are missing (fails with
// SLUICE_E2E=1).
func journald(t *testing.T, dir string) (logs string, write func(tag string, lines string) error) {
	t.Helper()
	need(t, "journalctl")
	need(t, "systemd-cat")
	unshare := need(t, "unshare")
	nsenter := need(t, "nsenter")
	journald := "/lib/systemd/systemd-journald"
	if _, err := os.Stat(journald); err != nil || os.Geteuid() != 0 {
		if os.Getenv("SLUICE_E2E") == "1" {
			t.Fatalf("%s and root are required (SLUICE_E2E=1): %v", journald, err)
		}
		t.Skipf("needs %s and root", journald)
	}
	sock, logs := filepath.Join(dir, "sock"), filepath.Join(dir, "journal")
	for _, d := range []string{sock, logs} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	jd := exec.Command(unshare, "-m", "--propagation", "private", "sh", "-c", fmt.Sprintf(
		`mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal /run/log/journal &&
		 mount --bind %q /run/systemd/journal && mount --bind %q /run/log/journal &&
		 exec %s`, sock, logs, journald))
	jd.Env = append(os.Environ(), "SYSTEMD_LOG_TARGET=console")
	var jdLogs bytes.Buffer
	jd.Stdout, jd.Stderr = &jdLogs, &jdLogs
	if err := jd.Start(); err != nil {
		t.Fatal(err)
	}
	jdDone := make(chan error, 1)
	go func() { jdDone <- jd.Wait() }()
	t.Cleanup(func() {
		_ = jd.Process.Kill()
		<-jdDone
		if t.Failed() {
			t.Logf("systemd-journald logs:\n%s", jdLogs.String())
		}
	})
	waitFor(t, "systemd-journald to listen", func() bool {
		_, err := os.Stat(filepath.Join(sock, "stdout"))
		return err == nil
	})
	return logs, func(tag, lines string) error {
		cmd := exec.Command(nsenter, "-t", strconv.Itoa(jd.Process.Pid), "-m", "--", "systemd-cat", "-t", tag)
		cmd.Stdin = strings.NewReader(lines)
		if o, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("systemd-cat: %v: %s", err, o)
		}
		return nil
	}
}

type journaldResult struct {
	seen                  map[int]int
	dupEntries, dupCopies int
	torn                  int // lines that are not JSON: written when sluiced was killed
	fields                int // entries with appName, procId and a cursor
}

// journaldEntries reads the numbered entries of tag in the NDJSON file.
func journaldEntries(t *testing.T, path, tag string) journaldResult {
	t.Helper()
	r := journaldResult{seen: map[int]int{}}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return r
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			r.torn++
			continue
		}
		if get(ev, "syslog.appName") != tag {
			continue
		}
		var i int
		if _, err := fmt.Sscanf(fmt.Sprint(get(ev, "syslog.message")), "entry %d", &i); err != nil {
			continue
		}
		r.seen[i]++
		if r.seen[i] == 2 {
			r.dupEntries++
		}
		if r.seen[i] > 1 {
			r.dupCopies++
		}
		if get(ev, "syslog.procId") != nil && get(ev, "sourceType") == "journald" && strings.Contains(sc.Text(), "__CURSOR") {
			r.fields++
		}
	}
	return r
}
