package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFileSourceCrash tails a directory of growing logs with sluiced,
// kills sluiced with SIGKILL again and again, restarts it, and checks by
// sequence number that no line is missing from the output once it has
// caught up. Around each kill, files are created, rotated (rename, then a
// new file) and copytruncated: at a random moment while sluiced runs, on
// purpose right after a checkpoint write (then the kill comes as soon as
// the new file's lines are delivered, before the next tick), and while
// sluiced is stopped. startAt is "end": lines written before the first
// start must not be read, and no file found later may be skipped.
//
// Duplicates are allowed (at-least-once) and bounded: after each kill,
// the lines delivered past the offsets in the checkpoint file, which a
// restart reads again, must be at most those delivered since the last
// checkpoint write began plus one destination batch (256 lines, one flush
// at a time). Writes are serialised, so the last one began after the one
// before it was renamed into place, whose mtime the test keeps; that is
// one checkpointInterval ago when the disk keeps up. Every file with
// delivered lines must be in the checkpoint file at the kill.
//
// SLUICE_CRASH_CYCLES sets the number of kill cycles (default 20; 500 for
// a soak). The moment right after a checkpoint write lasts one
// checkpointInterval, and a loaded machine may deliver the new file's
// lines only after the next write: until it has been hit once, more
// cycles follow that each try for it, up to maxAfterWrite tries.
func TestFileSourceCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	cycles := crashCycles(t, 20)
	const (
		interval      = 200 * time.Millisecond // checkpointInterval
		batch         = 256                    // the destination's batch count
		maxAfterWrite = 40                     // tries for the moment after a write
	)
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	must(t, os.MkdirAll(logs, 0o755))
	outPath := filepath.Join(dir, "out.ndjson")
	dataDir := filepath.Join(dir, "data")
	ckpt := filepath.Join(dataDir, "state", "log", "checkpoints.json")
	config := fileSourceConfig(dir, filepath.Join(logs, "*"), outPath, interval.String(), 0)

	w := newLogWriter(t, logs, dir, 20)
	out := &seqs{path: outPath, parse: fileLineSeq}
	maxOut := map[int]int64{}    // stream → the largest offset of its lines in the output
	runOut := map[int][2]int64{} // stream → the smallest and largest offsets delivered by this run
	out.each = func(seq int64) {
		if seq < 0 {
			return // a line written before the first start: checked at the end
		}
		i, off := w.where(seq)
		if o, ok := maxOut[i]; !ok || off > o {
			maxOut[i] = off
		}
		r, ok := runOut[i]
		if !ok {
			r = [2]int64{off, off}
		}
		runOut[i] = [2]int64{min(r[0], off), max(r[1], off)}
	}
	// samples of the output's line count, to bound the duplicates by what
	// was delivered in the last intervals before a kill.
	type sample struct {
		at    time.Time
		lines int
	}
	var samples []sample
	// The mtimes of the checkpoint file's last two versions seen: the last
	// write began after the one before it was done.
	var ckptFile os.FileInfo
	var ckptMtimes [2]time.Time
	watch := func() {
		if fi, err := os.Stat(ckpt); err == nil && (ckptFile == nil || !os.SameFile(fi, ckptFile)) {
			ckptFile, ckptMtimes = fi, [2]time.Time{ckptMtimes[1], fi.ModTime()}
		}
	}
	poll := func() {
		watch()
		out.read(t)
		samples = append(samples, sample{time.Now(), out.lines})
	}
	linesAt := func(at time.Time) int {
		i := sort.Search(len(samples), func(i int) bool { return samples[i].at.After(at) })
		if i == 0 {
			return 0
		}
		return samples[i-1].lines
	}

	d := start(t, dir, config)
	waitFor(t, "the first checkpoint write", func() bool { _, err := os.Stat(ckpt); return err == nil })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { w.run(t, stop) })
	stopWriter := sync.OnceFunc(func() { close(stop); wg.Wait(); w.close() })
	t.Cleanup(stopWriter)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var (
		ops                        [3][nOps]int // [while running, after a write, while stopped][op]
		afterWrite, hits           int
		sumLag, maxLag, maxRestart int
		worst                      float64       // largest lag / bound
		slowWrites                 int           // kills when the last write began over two intervals before
		oldest                     time.Duration // the longest since the last write began, at a kill
		prevDups                   int
		unrecorded                 int
	)
	doOp := func(when, op int) int {
		i, err := w.do(op)
		if err != nil {
			t.Fatal(err)
		}
		ops[when][op]++
		return i
	}
	ran := 0
	for c := 0; c < cycles || (hits == 0 && afterWrite < maxAfterWrite); c++ {
		ran++
		if c > 0 {
			if rng.IntN(2) == 0 {
				doOp(2, rng.IntN(nOps))
			}
			time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond) // lines written while stopped
			d = start(t, dir, config)
		}
		fresh := -1 // the stream the op right after a checkpoint write started
		if c >= cycles || rng.IntN(3) == 0 {
			// On purpose: an op right after a checkpoint write, then the
			// kill as soon as the new stream's lines are delivered.
			afterWrite++
			fi, err := os.Stat(ckpt)
			must(t, err)
			deadline := time.Now().Add(5 * interval)
			for time.Now().Before(deadline) {
				poll()
				if f, err := os.Stat(ckpt); err == nil && !os.SameFile(f, fi) {
					break
				}
				time.Sleep(time.Millisecond)
			}
			fresh = doOp(1, rng.IntN(nOps))
			deadline = time.Now().Add(2 * interval)
			for time.Now().Before(deadline) {
				poll()
				if _, ok := maxOut[fresh]; ok {
					break
				}
				time.Sleep(2 * time.Millisecond)
			}
		} else {
			alive := time.Duration(50+rng.IntN(451)) * time.Millisecond // the crash point, not synchronisation
			opAt := time.Now().Add(time.Duration(rng.Int64N(int64(alive))))
			op := rng.IntN(nOps + 1) // nOps: none
			for end := time.Now().Add(alive); time.Now().Before(end); {
				if op < nOps && time.Now().After(opAt) {
					doOp(0, op)
					op = nOps
				}
				poll()
				time.Sleep(5 * time.Millisecond)
			}
		}
		killedAt := time.Now()
		d.kill()
		poll()
		since := ckptMtimes[0] // the last write began after it
		if killedAt.Sub(since) > 2*interval {
			slowWrites++
		}
		oldest = max(oldest, killedAt.Sub(since))

		// What a restart will read again: per stream, the lines delivered
		// past its offset in the checkpoint file. Those this run delivered
		// are what this kill adds; lines delivered by an earlier run and
		// not again by this one (killed before it got that far) were
		// counted at an earlier kill.
		committed := map[int]int64{}
		entries := stateEntries(t, dataDir)
		for _, e := range entries {
			if i, ok := w.streamOfEntry(e); ok {
				committed[i] = e.Offset
			}
		}
		lag := 0
		var detail []string // the streams with lines past the checkpoint
		for i, o := range maxOut {
			if _, ok := committed[i]; !ok {
				unrecorded++
				if unrecorded <= 5 {
					t.Errorf("cycle %d: stream %d has lines delivered (up to offset %d) but is not in the checkpoint file", c, i, o)
					if unrecorded == 1 { // what the source knew, to tell which rule dropped it
						for _, e := range entries {
							j, ok := w.streamOfEntry(e)
							t.Logf("checkpoint entry %s: fingerprint of %d bytes, offset %d, stream %d (found %v)", e.Path, e.FingerprintLen, e.Offset, j, ok)
						}
						t.Logf("this run's sluiced logs:\n%s", d.logs.String())
					}
				}
			}
		}
		for i, r := range runOut {
			from := max(committed[i], r[0])
			n := w.linesBetween(i, from, r[1])
			lag += n
			if n > 0 {
				detail = append(detail, fmt.Sprintf("%s (stream %d) %d lines from offset %d", w.pathOf(i), i, n, from))
			}
		}
		clear(runOut)
		if _, ok := maxOut[fresh]; ok && committed[fresh] == 0 {
			hits++ // the moment: a new file's lines delivered, its offset 0 on disk
		}
		bound := out.lines - linesAt(since) + batch
		if lag > bound {
			t.Errorf("cycle %d: %d lines delivered past the checkpoint, more than the %d delivered since the last write began (%v before the kill) plus a batch: %s",
				c, lag, bound-batch, killedAt.Sub(since).Round(time.Millisecond), strings.Join(detail, "; "))
		}
		sumLag += lag
		maxLag = max(maxLag, lag)
		worst = max(worst, float64(lag)/float64(bound))
		maxRestart = max(maxRestart, out.dups-prevDups)
		prevDups = out.dups
	}
	stopWriter()
	total := w.written()

	d = start(t, dir, config)
	for deadline := time.Now().Add(120 * time.Second); int64(len(out.seen)) < total; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Error("timed out waiting for the output to catch up")
			break
		}
		out.read(t)
	}
	d.stop(t)
	out.read(t)
	maxRestart = max(maxRestart, out.dups-prevDups)
	missing, early := 0, 0
	for s := range total {
		if !out.seen[s] {
			missing++
			if missing <= 5 {
				t.Errorf("seq %d is missing", s)
			}
		}
	}
	for s := range out.seen {
		if s < 0 {
			early++
		}
	}
	t.Logf("cycles %d; ops while running %v, right after a checkpoint write %v (new file delivered, offset 0 on disk at the kill: %d of %d), while stopped %v",
		ran, opCounts(ops[0]), opCounts(ops[1]), hits, afterWrite, opCounts(ops[2]))
	t.Logf("lines written %d, unique in output %d, missing %d, duplicates %d (largest after one restart %d); "+
		"lines past the checkpoint at a kill: total %d, largest %d, largest share of its bound %.2f",
		total, len(out.seen)-early, missing, out.dups, maxRestart, sumLag, maxLag, worst)
	t.Logf("the last checkpoint write began at most %v before a kill (checkpointInterval %v); over two intervals before %d of %d kills",
		oldest.Round(time.Millisecond), interval, slowWrites, ran)
	if early > 0 {
		t.Errorf("%d lines written before the first start were read (startAt is end)", early)
	}
	if out.dups > sumLag {
		t.Errorf("%d duplicates, more than the %d lines past the checkpoints at the kills", out.dups, sumLag)
	}
	if afterWrite >= 3 && hits == 0 {
		t.Errorf("no kill came after a new file was delivered and before its offset was written (%d tries)", afterWrite)
	}
	if missing > 0 {
		t.Fatalf("%d of %d lines missing", missing, total)
	}
}

func opCounts(n [nOps]int) string {
	var parts []string
	for op, k := range n {
		parts = append(parts, fmt.Sprintf("%s %d", opNames[op], k))
	}
	return strings.Join(parts, ", ")
}

// crashCycles returns the number of kill cycles of a crash test:
// SLUICE_CRASH_CYCLES, or def when it is unset.
func crashCycles(t *testing.T, def int) int {
	t.Helper()
	s := os.Getenv("SLUICE_CRASH_CYCLES")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("SLUICE_CRASH_CYCLES=%q: want a positive integer", s)
	}
	return n
}

// seqs counts sequence numbers: those of the output file at path (read
// reads only what was added since its last call), or those given to add.
// The destination only appends (a torn last line is cut at restart, and is
// never read here: only complete lines are).
type seqs struct {
	path  string
	parse func(line []byte) (int64, error) // the seq of an output line
	each  func(seq int64)                  // if set, called for each line read
	off   int64
	seen  map[int64]bool
	dups  int
	lines int // lines read
}

// add counts one copy of seq.
func (c *seqs) add(seq int64) {
	if c.seen == nil {
		c.seen = map[int64]bool{}
	}
	if c.seen[seq] {
		c.dups++
	}
	c.seen[seq] = true
}

// has reports whether seq was counted.
func (c *seqs) has(seq int64) bool { return c.seen[seq] }

func (c *seqs) read(t *testing.T) {
	t.Helper()
	f, err := os.Open(c.path)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, c.off, 1<<62))
	if err != nil {
		t.Fatal(err)
	}
	c.off += int64(c.addLines(t, b))
}

// addLines counts the complete lines of b and returns their length.
func (c *seqs) addLines(t *testing.T, b []byte) int {
	t.Helper()
	i := bytes.LastIndexByte(b, '\n')
	if i < 0 {
		return 0
	}
	b = b[:i+1]
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		seq, err := c.parse(line)
		if err != nil {
			t.Fatalf("bad output line %q: %v", line, err)
		}
		c.add(seq)
		c.lines++
		if c.each != nil {
			c.each(seq)
		}
	}
	return len(b)
}

// fileLineSeq is the seq of an NDJSON line whose raw is "seq=N ...".
func fileLineSeq(line []byte) (int64, error) {
	var ev struct {
		Raw string `json:"raw"`
	}
	if err := json.Unmarshal(line, &ev); err != nil {
		return 0, err
	}
	f := strings.Fields(ev.Raw)
	if len(f) == 0 {
		return 0, fmt.Errorf("raw %q: no seq", ev.Raw)
	}
	if n, ok := strings.CutPrefix(f[0], "pre="); ok { // a line the test expects not to be read
		seq, err := strconv.ParseInt(n, 10, 64)
		return -1 - seq, err
	}
	return strconv.ParseInt(strings.TrimPrefix(f[0], "seq="), 10, 64)
}

func waitForLong(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
