package daemon_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/builtin"
	"github.com/sluicehq/sluice/event"
)

// lifecycle counts, by destination name, the instances that the
// "counted" destination type (a file destination) built, ran, and that
// stopped.
type lifecycle struct {
	mu                  sync.Mutex
	builds, runs, stops map[string]int
}

func (lc *lifecycle) add(m map[string]int, name string) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	m[name]++
}

// counts returns the builds, runs and stops of name.
func (lc *lifecycle) counts(name string) [3]int {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return [3]int{lc.builds[name], lc.runs[name], lc.stops[name]}
}

// registry returns the builtin connectors and "counted".
func (lc *lifecycle) registry() *daemon.Registry {
	lc.builds, lc.runs, lc.stops = map[string]int{}, map[string]int{}, map[string]int{}
	r := builtin.Registry()
	daemon.RegisterDestination(r, "counted", "the file destination, its instances counted",
		func() *file.Config { c := file.DefaultConfig(""); return &c },
		func(env daemon.Env, c *file.Config) (sluice.Destination[event.Event], error) {
			d, err := file.New(*c, file.WithLogger(env.Logger))
			if err != nil {
				return nil, err
			}
			lc.add(lc.builds, env.Name)
			return countedDest{d, lc, env.Name}, nil
		})
	return r
}

type countedDest struct {
	*file.Destination
	lc   *lifecycle
	name string
}

func (d countedDest) Run(ctx context.Context) error {
	d.lc.add(d.lc.runs, d.name)
	defer d.lc.add(d.lc.stops, d.name)
	return d.Destination.Run(ctx)
}

// lineWriter appends "seq=N" lines to a file, one every millisecond,
// until halted.
type lineWriter struct {
	next atomic.Int64 // the seq of the next line
	stop chan struct{}
	wg   sync.WaitGroup
}

func writeLines(t *testing.T, path string) *lineWriter {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	w := &lineWriter{stop: make(chan struct{})}
	w.wg.Go(func() {
		defer f.Close()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			if _, err := fmt.Fprintf(f, "seq=%d\n", w.next.Load()); err != nil {
				panic(err)
			}
			w.next.Add(1)
		}
	})
	return w
}

// halt stops the writer and returns the number of lines written.
func (w *lineWriter) halt() int {
	close(w.stop)
	w.wg.Wait()
	return int(w.next.Load())
}

// seqCounts counts the "seq=N" raw lines in the NDJSON files paths (a
// missing file holds none).
func seqCounts(t *testing.T, paths ...string) map[int]int {
	t.Helper()
	n := map[int]int{}
	for _, path := range paths {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		for _, l := range readLines(t, path) {
			n[parseSeq(t, fmt.Sprint(l["raw"]))]++
		}
	}
	return n
}

func parseSeq(t *testing.T, raw string) int {
	t.Helper()
	s, err := strconv.Atoi(strings.TrimPrefix(raw, "seq="))
	if err != nil {
		t.Fatalf("line %q: %v", raw, err)
	}
	return s
}

// exactlyOnce reports what of 0..n-1 counts misses, and holds more than
// once.
func exactlyOnce(counts map[int]int, n int) (missing, dups int) {
	for s := range n {
		switch c := counts[s]; {
		case c == 0:
			missing++
		case c > 1:
			dups += c - 1
		}
	}
	return missing, dups
}

// waitLong polls cond for up to a minute: the test machine may be loaded.
func waitLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runDaemon runs a daemon on cfg, logging to logs, until the test ends,
// and checks that Run then returns nil.
func runDaemon(t *testing.T, cfg []byte, r *daemon.Registry, logs *syncBuf) *daemon.Daemon {
	t.Helper()
	dm, err := daemon.New(cfg, r, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- dm.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	return dm
}

// A file source under steady load feeds destinations a (behind a disk
// buffer) and b. Six reloads each change b alone (its path): each time
// b's instance drains through the ack path and a new one starts, while a
// runs on untouched: built once, run once, never stopped, its spool
// opened once, and the source never restarts. Every line is in a exactly
// once, and in b's files exactly once.
func TestReloadReplacesOnlyTheChangedDestination(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.log")
	if err := os.WriteFile(in, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	aPath := filepath.Join(dir, "a.ndjson")
	bPath := func(i int) string { return filepath.Join(dir, fmt.Sprintf("b%d.ndjson", i)) }
	config := func(i int) []byte {
		return fmt.Appendf(nil, `{
			"dataDir": %q, "shutdownTimeout": "10s",
			"sources": {"in": {"type": "file", "paths": [%q], "startAt": "beginning", "pollInterval": "10ms", "checkpointInterval": "50ms"}},
			"destinations": {
				"a": {"type": "counted", "path": %q, "maxBytes": 0, "buffer": {"type": "disk"}, "batch": {"age": "5ms"}},
				"b": {"type": "counted", "path": %q, "maxBytes": 0, "batch": {"age": "5ms"}},
			},
		}`, filepath.Join(dir, "data"), in, aPath, bPath(i))
	}
	var lc lifecycle
	var logs syncBuf
	dm := runDaemon(t, config(0), lc.registry(), &logs)
	w := writeLines(t, in)
	const reloads = 6
	for i := 1; i <= reloads; i++ {
		waitLong(t, fmt.Sprintf("b's instance %d to write lines", i-1), func() bool { return len(seqCounts(t, bPath(i-1))) > 0 })
		if err := dm.Reload(t.Context(), config(i)); err != nil {
			w.halt()
			t.Fatalf("reload %d: %v", i, err)
		}
		if got, want := lc.counts("a"), [3]int{1, 1, 0}; got != want {
			t.Errorf("after reload %d: a built, ran, stopped %v times, want %v", i, got, want)
		}
		waitLong(t, fmt.Sprintf("b built, ran and stopped %d, %d and %d times", i+1, i+1, i), func() bool {
			return lc.counts("b") == [3]int{i + 1, i + 1, i}
		})
	}
	n := w.halt()
	var bPaths []string
	for i := range reloads + 1 {
		bPaths = append(bPaths, bPath(i))
	}
	waitLong(t, fmt.Sprintf("%d lines in a and in b", n), func() bool {
		return len(seqCounts(t, aPath)) == n && len(seqCounts(t, bPaths...)) == n
	})
	for name, counts := range map[string]map[int]int{"a": seqCounts(t, aPath), "b": seqCounts(t, bPaths...)} {
		if missing, dups := exactlyOnce(counts, n); missing > 0 || dups > 0 {
			t.Errorf("%s: %d of %d lines missing, %d duplicates", name, missing, n, dups)
		}
	}
	if got := strings.Count(logs.String(), `msg="spool: opened" destination=a`); got != 1 {
		t.Errorf("a's spool was opened %d times, want once", got)
	}
	if got := strings.Count(logs.String(), "replaceDestinations=[b] replaceRoutes=[default] keepDestinations=[a]"); got != reloads {
		t.Errorf("%d reloads said they replace b alone, want %d", got, reloads)
	}
	for _, not := range []string{"file source: resuming", "restarting it"} {
		if strings.Contains(logs.String(), not) {
			t.Errorf("the source restarted (%q), though its config never changed and b drained cleanly", not)
		}
	}
}

// collector is an HTTP endpoint that takes NDJSON batches of "seq=N"
// events, or answers 503 while down. It always refuses the first
// generation's requests (X-Gen: 1): the endpoint comes back only once
// the b being replaced is gone. Without that, a POST the old b sent just
// before its stop, cancelled by it, could reach the handler after the
// test set down to false and be stored: a duplicate at-least-once
// allows, but not the moment this test is about.
type collector struct {
	down     atomic.Bool
	attempts atomic.Int64 // POSTs refused while down
	mu       sync.Mutex
	got      map[int]int
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if c.down.Load() || r.Header.Get("X-Gen") == "1" {
		c.attempts.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	var seqs []int
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		var e struct{ Raw string }
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s, err := strconv.Atoi(strings.TrimPrefix(e.Raw, "seq="))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		seqs = append(seqs, s)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range seqs {
		c.got[s]++
	}
}

func (c *collector) counts() map[int]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[int]int, len(c.got))
	for k, v := range c.got {
		m[k] = v
	}
	return m
}

// A reload replaces destination b while its endpoint is down and b holds
// every line unacked; a, a file, has them all. Behind a disk buffer, the
// lines are b's spool's, acked to the source: the old b stops with them
// undelivered, the new b reopens the spool and delivers them once the
// endpoint is back; a and the source run on, and nothing is read twice.
// Without one, the old b stops with them unacked: the source, which still
// runs, restarts and reads them again from its checkpoint, so b gets
// them all and a gets at most those lines twice (at-least-once).
func TestReloadWhileADestinationIsDown(t *testing.T) {
	for _, buffered := range []bool{true, false} {
		t.Run(fmt.Sprintf("buffered=%v", buffered), func(t *testing.T) {
			dir := t.TempDir()
			in, aPath := filepath.Join(dir, "in.log"), filepath.Join(dir, "a.ndjson")
			const n = 50
			var lines []byte
			for i := range n {
				lines = fmt.Appendf(lines, "seq=%d\n", i)
			}
			if err := os.WriteFile(in, lines, 0o644); err != nil {
				t.Fatal(err)
			}
			coll := &collector{got: map[int]int{}}
			coll.down.Store(true)
			srv := httptest.NewServer(coll)
			defer srv.Close()
			admin := freeAddr(t)
			buffer := ""
			if buffered {
				buffer = `"buffer": {"type": "disk"},`
			}
			config := func(gen string) []byte {
				return fmt.Appendf(nil, `{
					"dataDir": %q, "shutdownTimeout": "5s", "admin": {"addr": %q},
					"sources": {"in": {"type": "file", "paths": [%q], "startAt": "beginning", "pollInterval": "10ms", "checkpointInterval": "50ms"}},
					"destinations": {
						"a": {"type": "counted", "path": %q, "maxBytes": 0, "batch": {"age": "5ms"}},
						"b": {"type": "http", "url": %q, "headers": {"X-Gen": %q}, %s
							"batch": {"age": "5ms", "stopTimeout": "300ms", "retry": {"initial": "10ms", "max": "50ms"}}},
					},
				}`, filepath.Join(dir, "data"), admin, in, aPath, srv.URL, gen, buffer)
			}
			var lc lifecycle
			var logs syncBuf
			dm := runDaemon(t, config("1"), lc.registry(), &logs)
			waitLong(t, "a to write every line and b's endpoint to refuse some", func() bool {
				return len(seqCounts(t, aPath)) == n && coll.attempts.Load() >= 2
			})
			if buffered {
				waitLong(t, "b's spool to hold every line", func() bool {
					return metric(t, admin, `sluice_spool_records{buffer="b"}`) == n
				})
			}
			if err := dm.Reload(t.Context(), config("2")); err != nil {
				t.Fatal(err)
			}
			coll.down.Store(false)
			waitLong(t, "b's endpoint to get every line", func() bool { return len(coll.counts()) == n })
			if missing, dups := exactlyOnce(coll.counts(), n); missing > 0 || (buffered && dups > 0) {
				t.Errorf("b's endpoint: %d of %d lines missing, %d duplicates", missing, n, dups)
			}
			if got, want := lc.counts("a"), [3]int{1, 1, 0}; got != want {
				t.Errorf("a built, ran, stopped %v times, want %v: it should run on untouched", got, want)
			}
			restarted := strings.Contains(logs.String(), "restarting it")
			if buffered {
				if restarted {
					t.Error("the source restarted, though b's spool held its lines")
				}
				if missing, dups := exactlyOnce(seqCounts(t, aPath), n); missing > 0 || dups > 0 {
					t.Errorf("a: %d of %d lines missing, %d duplicates", missing, n, dups)
				}
				return
			}
			if !restarted {
				t.Error("the source did not restart, though the old b never acked its lines")
			}
			waitLong(t, "a to get the lines read again", func() bool {
				_, dups := exactlyOnce(seqCounts(t, aPath), n)
				return dups == n
			})
			if missing, _ := exactlyOnce(seqCounts(t, aPath), n); missing > 0 {
				t.Errorf("a misses %d lines", missing)
			}
		})
	}
}

// A reload that changes dataDir is refused, with the field's path and
// the reason, and counted as failed; the running config runs on, and no
// directory is made at the new path.
func TestReloadRefusesAnotherDataDir(t *testing.T) {
	dir := t.TempDir()
	in, out, admin := filepath.Join(dir, "in.log"), filepath.Join(dir, "out.ndjson"), freeAddr(t)
	if err := os.WriteFile(in, []byte("seq=0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	config := func(dataDir string) []byte {
		return fmt.Appendf(nil, `{
			"dataDir": %q, "admin": {"addr": %q},
			"sources": {"in": {"type": "file", "paths": [%q], "startAt": "beginning", "pollInterval": "10ms"}},
			"destinations": {"out": {"type": "file", "path": %q, "batch": {"age": "5ms"}}},
		}`, dataDir, admin, in, out)
	}
	var logs syncBuf
	dm := runDaemon(t, config(filepath.Join(dir, "data")), builtin.Registry(), &logs)
	waitLong(t, "the first line", func() bool { return len(seqCounts(t, out)) == 1 })
	other := filepath.Join(dir, "other")
	err := dm.Reload(t.Context(), config(other))
	if err == nil || !strings.Contains(err.Error(), "dataDir: changed from") || !strings.Contains(err.Error(), "restart sluiced") {
		t.Fatalf("Reload(another dataDir) = %v, want a refusal at dataDir saying to restart", err)
	}
	if !strings.Contains(logs.String(), "reload refused") {
		t.Error("the refusal is not logged")
	}
	if got := metric(t, admin, `sluice_reloads_total{result="failed"}`); got != 1 {
		t.Errorf("failed reloads = %v, want 1", got)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("the refused dataDir was made: %v", err)
	}
	f, err := os.OpenFile(in, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "seq=1")
	f.Close()
	waitLong(t, "the second line, by the running config", func() bool { return len(seqCounts(t, out)) == 2 })
}

// stuck is a destination whose Sends wait until release is closed, then
// ack.
type stuck struct{ release chan struct{} }

func (s stuck) Send(ctx context.Context, ack func(), _ ...sluice.Message[event.Event]) error {
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	sluice.Ack(ack)
	return nil
}

// When a Send is still in progress at shutdownTimeout, a reload that
// replaces destinations cannot hold the Sends back: it stops everything
// as at a stop, builds the new config again, whole (nothing of the old
// one runs on), and starts it. The Send is let go once the reload has
// said so: it acks, so the source resumes after that line. The new
// config then delivers, and the reload counts as ok.
func TestReloadRestartsEverythingWhenSendsHang(t *testing.T) {
	dir := t.TempDir()
	in, admin := filepath.Join(dir, "in.log"), freeAddr(t)
	if err := os.WriteFile(in, []byte("seq=0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var builds atomic.Int64
	r := builtin.Registry()
	daemon.RegisterDestination(r, "stuck", "Sends wait for the test", func() *struct{} { return &struct{}{} },
		func(daemon.Env, *struct{}) (sluice.Destination[event.Event], error) {
			builds.Add(1)
			return stuck{release}, nil
		})
	config := func(b bool) []byte {
		extra := ""
		if b {
			extra = fmt.Sprintf(`, "b": {"type": "file", "path": %q, "batch": {"age": "5ms"}}`, filepath.Join(dir, "b.ndjson"))
		}
		return fmt.Appendf(nil, `{
			"dataDir": %q, "shutdownTimeout": "1s", "admin": {"addr": %q},
			"sources": {"in": {"type": "file", "paths": [%q], "startAt": "beginning", "pollInterval": "10ms"}},
			"destinations": {"a": {"type": "stuck"}%s},
		}`, filepath.Join(dir, "data"), admin, in, extra)
	}
	var logs syncBuf
	dm := runDaemon(t, config(false), r, &logs)
	waitLong(t, "the admin listener", func() bool {
		c, err := net.Dial("tcp", admin)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	waitLong(t, "a Send to hang", func() bool { return metric(t, admin, `sluice_events_in_total{kind="destination",name="a"}`) == 1 })
	go func() {
		for !strings.Contains(logs.String(), "restarting everything") {
			time.Sleep(10 * time.Millisecond)
		}
		close(release)
	}()
	if err := dm.Reload(t.Context(), config(true)); err != nil {
		t.Fatal(err)
	}
	if got := builds.Load(); got != 2 {
		t.Errorf("a was built %d times, want 2: at the start, and again for the restart (the reload's own build keeps it)", got)
	}
	if got := metric(t, admin, `sluice_reloads_total{result="ok"}`); got != 1 {
		t.Errorf("ok reloads = %v, want 1", got)
	}
	f, err := os.OpenFile(in, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "seq=1")
	f.Close()
	waitLong(t, "b, new, to get the line written after the reload", func() bool {
		return seqCounts(t, filepath.Join(dir, "b.ndjson"))[1] == 1
	})
}
