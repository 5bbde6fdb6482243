package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/metrictest"
)

// reloadConfig tails in into out1, through a disk buffer, and, if both,
// into out2 too,
// with the admin listener on adminPort.
func reloadConfig(dir, in string, adminPort int, both bool) string {
	dest := func(name string) string {
		return fmt.Sprintf(`%q: {"type": "file", "path": %q, "maxBytes": 0, "batch": {"count": 256, "age": "20ms"}}`,
			name, filepath.Join(dir, name+".ndjson"))
	}
	dests := strings.Replace(dest("out1"), `"batch"`, `"buffer": {"type": "disk"}, "batch"`, 1)
	if both {
		dests += ", " + dest("out2")
	}
	return fmt.Sprintf(`{
		"dataDir": %q,
		"admin": {"addr": "127.0.0.1:%d"},
		"shutdownTimeout": "10s",
		"sources": {"log": {"type": "file", "paths": [%q], "startAt": "beginning", "pollInterval": "10ms", "checkpointInterval": "50ms"}},
		"destinations": {%s},
	}`, filepath.Join(dir, "data"), adminPort, in, dests)
}

// writer appends "seq=N" lines to path, a few every millisecond, until
// stopped; last is the seq of the last line written and flushed.
type writer struct {
	last atomic.Int64
	stop chan struct{}
	wg   sync.WaitGroup
}

func startWriter(t *testing.T, path string) *writer {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	w := &writer{stop: make(chan struct{})}
	w.last.Store(-1)
	w.wg.Go(func() {
		defer f.Close()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for seq := int64(0); ; {
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
			var b []byte
			for range 5 {
				b = fmt.Appendf(b, "seq=%010d %s\n", seq, strings.Repeat("r", 40))
				seq++
			}
			if _, err := f.Write(b); err != nil {
				panic(err)
			}
			w.last.Store(seq - 1)
		}
	})
	return w
}

func (w *writer) halt() int64 {
	close(w.stop)
	w.wg.Wait()
	return w.last.Load()
}

// A file source under steady load while the config is reloaded 20 times
// with SIGHUP, adding and removing a destination (out2), with an invalid
// config in between, which is refused while the running one goes on:
// out1, configured throughout, gets every line; out2 gets every line
// written after a reload that added it was done and read before the
// reload that removes it was asked for. The file source and out1, whose
// configs never change, run throughout: out1's disk buffer is opened once.
// The reloads are counted.
func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.log")
	adminPort := freePort(t)
	cfgPath := filepath.Join(dir, "sluiced.hujson")
	d := start(t, dir, reloadConfig(dir, in, adminPort, false))
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", adminPort)
	reloads := func(result string) float64 {
		return metrictest.Value(t, metricsURL, `sluice_reloads_total{result="`+result+`"}`)
	}
	out1 := &seqs{path: filepath.Join(dir, "out1.ndjson"), parse: fileLineSeq}
	out2 := &seqs{path: filepath.Join(dir, "out2.ndjson"), parse: fileLineSeq}
	// reload writes the config and sends SIGHUP; it returns once the
	// reload counter named result moved.
	reload := func(config, result string) {
		t.Helper()
		before := reloads(result)
		if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "a reload counted "+result, func() bool { return reloads(result) == before+1 })
	}

	w := startWriter(t, in)
	type window struct{ from, to int64 } // out2 must hold [from, to]
	var windows []window
	const cycles = 10 // 20 reloads
	for i := range cycles {
		time.Sleep(100 * time.Millisecond)
		reload(reloadConfig(dir, in, adminPort, true), "ok")
		from := w.last.Load() + 1 // written after out2 was added
		time.Sleep(150 * time.Millisecond)
		if i == cycles/2 {
			reload(`{"sources": {"log": {"type": "file"}}}`, "failed")
			time.Sleep(50 * time.Millisecond)
		}
		to := w.last.Load()
		waitFor(t, "out2 to read what was written", func() bool { out2.read(t); return out2.seen[to] })
		windows = append(windows, window{from, to})
		reload(reloadConfig(dir, in, adminPort, false), "ok")
	}
	last := w.halt()
	waitForLong(t, "out1 to catch up", 60*time.Second, func() bool { out1.read(t); return len(out1.seen) == int(last+1) })
	if ok, failed := reloads("ok"), reloads("failed"); ok != 2*cycles || failed != 1 {
		t.Errorf("sluice_reloads_total: ok %v, failed %v; want %d and 1", ok, failed, 2*cycles)
	}
	d.stop(t)
	out1.read(t)
	out2.read(t)
	checkAll(t, out1, 0, last+1)
	missing := 0
	for _, win := range windows {
		for s := win.from; s <= win.to; s++ {
			if !out2.seen[s] {
				missing++
			}
		}
	}
	t.Logf("%d lines, %d reloads: out1 %d duplicates; out2 %d lines in %d windows, %d missing, %d duplicates",
		last+1, 2*cycles, out1.dups, len(out2.seen), len(windows), missing, out2.dups)
	if missing > 0 {
		t.Errorf("out2 misses %d lines written while it was configured", missing)
	}
	if out1.dups > 0 || out2.dups > 0 {
		t.Errorf("duplicates after clean drains: out1 %d, out2 %d", out1.dups, out2.dups)
	}
	if n := strings.Count(d.logs.String(), `msg="spool: opened" destination=out1`); n != 1 {
		t.Errorf("out1's spool was opened %d times, want once: reloads that change out2 alone keep it running", n)
	}
	if strings.Contains(d.logs.String(), `msg="file source: resuming"`) {
		t.Error("the file source restarted, though its config never changed")
	}
	for _, want := range []string{"reload refused", "sources.log.paths"} {
		if !strings.Contains(d.logs.String(), want) {
			t.Errorf("the logs do not say %q", want)
		}
	}
}

// "run --watch" reloads the config when its file changes: a destination
// added to the file gets the lines read from then on; an invalid file is
// refused, counted, and the running config goes on.
func TestReloadWatch(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.log")
	adminPort := freePort(t)
	cfgPath := filepath.Join(dir, "sluiced.hujson")
	d := startWith(t, dir, reloadConfig(dir, in, adminPort, false), "--watch")
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", adminPort)
	reloads := func(result string) float64 {
		return metrictest.Value(t, metricsURL, `sluice_reloads_total{result="`+result+`"}`)
	}
	out1 := &seqs{path: filepath.Join(dir, "out1.ndjson"), parse: fileLineSeq}
	out2 := &seqs{path: filepath.Join(dir, "out2.ndjson"), parse: fileLineSeq}

	appendSeqs(t, in, 0, 10)
	waitFor(t, "out1 to read 10 lines", func() bool { out1.read(t); return len(out1.seen) == 10 })
	if err := os.WriteFile(cfgPath, []byte(reloadConfig(dir, in, adminPort, true)), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload", func() bool { return reloads("ok") == 1 })
	appendSeqs(t, in, 10, 20)
	waitFor(t, "out2 to read 10 lines", func() bool { out2.read(t); return len(out2.seen) == 10 })
	checkAll(t, out2, 10, 20)

	if err := os.WriteFile(cfgPath, []byte(`{"destinations": {"out1": {"type": "nope"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the refused reload", func() bool { return reloads("failed") == 1 })
	appendSeqs(t, in, 20, 30)
	waitFor(t, "out1 and out2 to read 30 and 20 lines", func() bool {
		out1.read(t)
		out2.read(t)
		return len(out1.seen) == 30 && len(out2.seen) == 20
	})
	checkAll(t, out1, 0, 30)
	if got := reloads("ok"); got != 1 {
		t.Errorf("ok reloads = %v, want 1", got)
	}
	d.stop(t)
}
