package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestFileSourceCrash tails a growing, rotating log with sluiced, kills
// sluiced with SIGKILL at random moments, restarts it, and checks by
// sequence number that no line is missing from the output once it has
// caught up. Duplicates are allowed (at-least-once) and counted. The file
// destination fsyncs each batch before acking it, so acked means durable,
// and the file source commits offsets only of acked lines.
//
// SLUICE_CRASH_CYCLES sets the number of kill cycles (default 20; 200 or
// more for a soak).
func TestFileSourceCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	cycles := crashCycles(t, 20)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.log")
	outPath := filepath.Join(dir, "out.ndjson")
	config := fmt.Sprintf(`{
		"dataDir": %q,
		"shutdownTimeout": "10s",
		"sources": {"log": {"type": "file", "paths": [%q], "startAt": "beginning",
			"pollInterval": "20ms", "checkpointInterval": "50ms"}},
		"destinations": {"out": {"type": "file", "path": %q, "maxBytes": 0, "batch": {"age": "20ms"}}},
	}`, filepath.Join(dir, "data"), logPath+"*", outPath)

	// The writer appends numbered lines and rotates the log by rename at
	// a third and two thirds of the cycles.
	var written atomic.Int64 // lines written: seq 0 .. written-1
	var rotations atomic.Int64
	rotateAt := map[int]bool{cycles / 3: true, 2 * cycles / 3: true}
	rotate := make(chan struct{}, 4)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Error(err)
			return
		}
		defer func() { f.Close() }()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		pad := strings.Repeat("x", 80)
		var seq int64
		for {
			select {
			case <-stop:
				return
			case <-rotate:
				f.Close()
				n := rotations.Add(1)
				if err := os.Rename(logPath, fmt.Sprintf("%s.%d", logPath, n)); err != nil {
					t.Error(err)
					return
				}
				if f, err = os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err != nil {
					t.Error(err)
					return
				}
			case <-tick.C:
				var b []byte
				for range 3 {
					b = fmt.Appendf(b, "seq=%010d %s\n", seq, pad)
					seq++
				}
				if _, err := f.Write(b); err != nil {
					t.Error(err)
					return
				}
				written.Store(seq)
			}
		}
	})
	stopWriter := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopWriter)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	out := &seqs{path: outPath, parse: fileLineSeq}
	prevDups, maxDups := 0, 0
	for c := range cycles {
		if rotateAt[c] {
			rotate <- struct{}{}
		}
		d := start(t, dir, config)
		time.Sleep(time.Duration(50+rng.IntN(451)) * time.Millisecond) // the crash point, not synchronisation
		d.kill()
		out.read(t)
		maxDups = max(maxDups, out.dups-prevDups)
		prevDups = out.dups
	}
	stopWriter()
	total := written.Load()

	d := start(t, dir, config)
	waitForLong(t, "the output to catch up", 120*time.Second, func() bool {
		out.read(t)
		return int64(len(out.seen)) >= total
	})
	d.stop(t)
	out.read(t)
	uniq, dups, seen := len(out.seen), out.dups, out.seen
	missing := 0
	for s := range total {
		if !seen[s] {
			missing++
			if missing <= 5 {
				t.Errorf("seq %d is missing", s)
			}
		}
	}
	t.Logf("cycles %d, rotations %d, lines written %d, unique in output %d, missing %d, duplicates %d (max %d per crash)",
		cycles, rotations.Load(), total, uniq, missing, dups, maxDups)
	if missing > 0 {
		t.Fatalf("%d of %d lines missing", missing, total)
	}
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
	off   int64
	seen  map[int64]bool
	dups  int
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
	i := bytes.LastIndexByte(b, '\n')
	if i < 0 {
		return
	}
	b = b[:i+1]
	c.off += int64(len(b))
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		seq, err := c.parse(line)
		if err != nil {
			t.Fatalf("bad output line %q: %v", line, err)
		}
		c.add(seq)
	}
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
