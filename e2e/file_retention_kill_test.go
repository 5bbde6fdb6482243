package e2e

import (
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// TestFileRetentionKill kills sluiced (SIGKILL) while strace holds the
// file destination's retention at the unlink of a rotated file, and
// restarts it once with retention and once without. The http source
// answers 200 once the file destination has written and fsynced a body's
// lines; maxBytes is one body, so every file holds exactly one body, and
// the test knows which body each rotated file holds.
//
//   - "rotation, before the unlink" and "rotation, after the unlink"
//     (maxFiles 2): three rotated files exist once the fourth body
//     rotates; the pruning unlink of the oldest is held at its start or
//     its end, before that body is written;
//   - "reload to fewer files, half pruned": a SIGHUP lowers maxFiles from
//     4 to 1, so the new destination's prune at its open deletes three
//     files; the second unlink is held at its start.
//
// At the kill, and after the restart, the acknowledged bodies missing
// must be the oldest (a prefix: no hole, so neither the file just
// rotated nor one newer than a kept one is gone), and no more than the
// policy allowed to delete; with retention, after the restart the policy
// holds exactly (the newest maxFiles rotated files and the current one);
// without, nothing more is deleted.
func TestFileRetentionKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	for _, m := range retentionMoments {
		for _, keep := range []bool{true, false} {
			name := m.name + "/restart with retention"
			if !keep {
				name = m.name + "/restart without retention"
			}
			t.Run(name, func(t *testing.T) { runRetentionKill(t, m, keep) })
		}
	}
}

// retentionMoment is a moment of TestFileRetentionKill.
type retentionMoment struct {
	name string
	// maxFiles is the policy of the first run; after, that of the
	// reload (0: no reload) and of the restart with retention.
	maxFiles, after int
	sent            int    // bodies answered 200 before the moment
	hold            int    // the rotated file (by the body it holds) whose unlink is held
	when            string // strace's delay_enter or delay_exit: before or after the unlink
	// pruned is the number of files the policy allows gone at the kill.
	pruned int
	// at reports whether sluiced is at the moment, given the rotated
	// files by the body they hold.
	at func(rotated map[int]string) bool
}

var retentionMoments = []retentionMoment{
	{name: "rotation, before the unlink", maxFiles: 2, sent: 3, hold: 0, when: "enter", pruned: 1,
		at: func(r map[int]string) bool { return len(r) == 3 }},
	{name: "rotation, after the unlink", maxFiles: 2, sent: 3, hold: 0, when: "exit", pruned: 1,
		at: func(r map[int]string) bool { _, ok := r[0]; return !ok && len(r) == 2 }},
	{name: "reload to fewer files, half pruned", maxFiles: 4, after: 1, sent: 5, hold: 1, when: "enter", pruned: 3,
		at: func(r map[int]string) bool { return len(r) == 3 }},
}

// retentionFirst is the seq of the first event of the first body: seqs
// of three digits, so that every body has the same size.
const retentionFirst = 100

func runRetentionKill(t *testing.T, m retentionMoment, keep bool) {
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	outDir := filepath.Join(dir, "out")
	path := filepath.Join(outDir, "out.ndjson")
	bodyBytes := len(crashBody(retentionFirst, killBody))
	config := func(maxFiles int) string {
		retention := ""
		if maxFiles > 0 {
			retention = fmt.Sprintf(`"retention": {"maxFiles": %d},`, maxFiles)
		}
		return fmt.Sprintf(`{
			"dataDir": %q,
			"sources": {"in": {"type": "http", "addr": %q, "format": "ndjson"}},
			"destinations": {"out": {"type": "file", "path": %q, "format": "raw", "maxBytes": %d, %s
				"batch": {"age": "20ms"}}},
		}`, filepath.Join(dir, "data"), addr, path, bodyBytes, retention)
	}
	first := func(body int) int64 { return retentionFirst + int64(body)*killBody }
	d := start(t, dir, config(m.maxFiles))
	k := newKillSender(t, addr)
	for b := range m.sent {
		k.send(first(b))
	}
	checkRetained(t, "before the moment", k, outDir, max(m.sent-1-m.maxFiles, 0))
	rotated := retainedBodies(t, outDir)
	held, ok := rotated[m.hold]
	if !ok {
		t.Fatalf("no rotated file holds body %d before the moment: %v", m.hold, rotated)
	}
	d.trace(t, "-P", held, "-e", "trace=/^unlink", "-e", "inject=/^unlink:delay_"+m.when+"=30000000")

	policy := m.maxFiles
	answer := make(chan int, 1)
	if m.after > 0 {
		policy = m.after
		must(t, os.WriteFile(filepath.Join(dir, "sluiced.hujson"), []byte(config(m.after)), 0o644))
		must(t, d.cmd.Process.Signal(syscall.SIGHUP))
		answer <- 0 // no request is in flight
	} else {
		r := postHeld(t, addr, crashBody(first(m.sent), killBody)) // rotates, then prunes
		go func() { answer <- r.status(60 * time.Second) }()
	}
	st := -1
	waitForLong(t, "the moment", 30*time.Second, func() bool {
		if m.at(retainedBodies(t, outDir)) {
			return true
		}
		select {
		case st = <-answer:
			return st != 0 // the body was written: no unlink held it
		default:
			return false
		}
	})
	if st == -1 {
		select {
		case st = <-answer:
		case <-time.After(200 * time.Millisecond):
		}
	}
	d.kill()
	if st == -1 {
		st = <-answer
	}
	switch {
	case m.after == 0 && st == http.StatusOK:
		// An error; the test goes on to show what it loses.
		t.Errorf("the body that rotates was answered 200 while the pruning unlink of the file holding body %d should hold it: the unlink never came", m.hold)
		k.acked = append(k.acked, seqRange(first(m.sent), killBody)...)
	case st > 0:
		t.Errorf("the body that rotates was answered %d while the pruning unlink should hold it", st)
	}
	atKill := checkRetained(t, "at the kill", k, outDir, m.pruned)

	d = start(t, dir, config(map[bool]int{true: policy}[keep]))
	sent := len(k.acked) / killBody
	if m.after == 0 && st != http.StatusOK {
		k.send(first(m.sent)) // no 200 came: the sender resends
		sent = m.sent + 1
	}
	k.send(first(sent)) // rotates again
	d.stop(t)
	rotated = retainedBodies(t, outDir)
	total := len(k.acked) / killBody
	// With retention, the policy holds; without, nothing more is gone.
	want := atKill
	if keep {
		want = total - policy - 1
	}
	if missing := checkRetained(t, "after the restart", k, outDir, max(want, atKill)); missing != want {
		t.Errorf("after the restart: %d of %d bodies gone, want %d (rotated files kept: %v)", missing, total, want, rotated)
	}
	t.Logf("%d bodies acknowledged; %d gone at the kill (the policy allowed %d), %d after the restart; %d rotated files kept",
		total, atKill, m.pruned, want, len(rotated))
}

// retainedBodies returns the rotated files in outDir by the body they
// hold: the index of their first line's body (see runRetentionKill).
func retainedBodies(t *testing.T, outDir string) map[int]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(outDir, "out-*"))
	must(t, err)
	out := map[int]string{}
	for _, f := range files {
		s := &seqs{path: f, parse: rawSeq}
		s.read(t)
		if len(s.seen) == 0 {
			continue
		}
		lowest := slices.Min(slices.Collect(maps.Keys(s.seen)))
		out[int((lowest-retentionFirst)/killBody)] = f
	}
	return out
}

// checkRetained counts the acknowledged bodies whose lines are in none
// of the files in outDir, and fails t if they are not the oldest ones
// (a prefix of what was acknowledged), if more than allowed are gone, or
// if a body is there in part. It returns how many are gone.
func checkRetained(t *testing.T, when string, k *killSender, outDir string, allowed int) int {
	t.Helper()
	out := &dirSeqs{glob: filepath.Join(outDir, "*")}
	out.read(t)
	var gone []int
	for b := range len(k.acked) / killBody {
		n := 0
		for _, seq := range k.acked[b*killBody : (b+1)*killBody] {
			if out.has(seq) {
				n++
			}
		}
		switch n {
		case 0:
			gone = append(gone, b)
		case killBody:
		default:
			t.Errorf("%s: body %d is in the files in part: %d of its %d lines", when, b, n, killBody)
		}
	}
	for i, b := range gone {
		if b != i {
			t.Errorf("%s: the bodies gone are %v, not the oldest ones: acknowledged lines newer than kept ones were deleted", when, gone)
			break
		}
	}
	if len(gone) > allowed {
		t.Errorf("%s: %d bodies gone (%v), the policy allows %d: acknowledged lines beyond the policy lost", when, len(gone), gone, allowed)
	}
	return len(gone)
}
