package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSpoolCheckpointKill kills sluiced (SIGKILL) while strace holds it
// inside the disk buffer's read-position checkpoint, and checks that after
// a restart every event the http source answered 200 for (spooled) reaches
// the destination (duplicates counted), with no record reported skipped
// or missing.
//
// The destination is an http receiver in this test. It holds its answer to
// the request with seq holdSeq (in segment 1) and answers 503 to any
// request holding an event of the last body, until the restart; two loops
// read the spool, so that the second goes on meanwhile. The last body is
// sent once every earlier event is stored or held, and strace attached
// once it is refused, and the held answer released: the committed
// position jumps past segment 1 while the spool holds records read and not
// acked, which a position saved past them would lose. The spool saves the
// position atomically (a temporary file, fsynced, renamed over
// position.json, the directory fsynced) every checkpointInterval and
// before deleting acked segments:
//
//   - "position written, not renamed": the rename is held at its start;
//     the temporary file is there;
//   - "renamed, directory not synced": the rename is held at its end;
//   - "position saved, acked segment not deleted": the unlink of segment 1
//     is held at its start, the saved position past it;
//   - "acked segment deleted": that unlink is held at its end.
//
// A spool that saved the read position rather than the acked one deletes
// segment 1 while it holds the held seq, and loses refused events; one
// that deleted segment 1 before saving the position past it is caught at
// all moments but the second (a restart resuming from a position in a
// deleted segment reports the acked records between as missing).
func TestSpoolCheckpointKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	const (
		hold  = "30000000" // µs: strace holds the call for 30s, until the kill
		acked = 4          // bodies the receiver takes before the restart
		gate  = acked * killBody
		// The receiver holds its answer to the request with this seq, in
		// segment 1, until the trace is attached: the position saved
		// before is in segment 1.
		holdSeq = 30
	)
	segName := func(id int) string { return fmt.Sprintf("%020d.seg", id) }
	firstSeg := segName(1)
	tmps := func(t *testing.T, dir string) int {
		tmps, err := filepath.Glob(filepath.Join(dir, "position.json.tmp-*"))
		must(t, err)
		return len(tmps)
	}
	// Each moment holds the call (a system call whose name starts so) on
	// the file of the spool directory at its start or end ("enter" or
	// "exit"); at reports whether sluiced is there.
	moments := []struct {
		name, call, file, when string
		at                     func(t *testing.T, spoolDir string) bool
	}{
		{"position written, not renamed", "rename", "position.json", "enter",
			func(t *testing.T, dir string) bool { return tmps(t, dir) > 0 }},
		{"renamed, directory not synced", "rename", "position.json", "exit",
			func(t *testing.T, dir string) bool { return tmps(t, dir) == 0 && saved(t, dir) != nil }},
		{"position saved, acked segment not deleted", "unlink", firstSeg, "enter",
			func(t *testing.T, dir string) bool {
				fi, err := os.Stat(filepath.Join(dir, firstSeg))
				p := saved(t, dir)
				return err == nil && p != nil && (p.Seg > 1 || p.Off >= fi.Size())
			}},
		{"acked segment deleted", "unlink", firstSeg, "exit",
			func(t *testing.T, dir string) bool {
				_, err := os.Stat(filepath.Join(dir, firstSeg))
				return os.IsNotExist(err)
			}},
	}
	for _, m := range moments {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			spoolDir := filepath.Join(dir, "data", "spool", "out")
			sink := newGatedSink(t, holdSeq, gate)
			srv := httptest.NewServer(sink)
			t.Cleanup(srv.Close)
			t.Cleanup(sink.release) // before srv.Close, which waits for handlers
			// A segment holds the largest event the source takes, about
			// three bodies of events: the first four bodies fill segment 1.
			maxBody := len(crashBody(0, killBody)) + 100
			config := fmt.Sprintf(`{
				"dataDir": %q,
				"sources": {"in": {"type": "http", "addr": %q, "format": "ndjson", "maxBodyBytes": %d}},
				"destinations": {"out": {"type": "http", "url": %q, "format": "raw",
					"batch": {"count": 5, "age": "20ms"},
					"buffer": {"type": "disk", "segmentBytes": %d, "checkpointInterval": "50ms", "parallelism": 2}}},
			}`, filepath.Join(dir, "data"), addr, maxBody, srv.URL, 3*maxBody)
			d := start(t, dir, config)
			k := newKillSender(t, addr)
			for first := range int64(acked) {
				k.send(first * killBody)
			}
			// The refused body comes alone in its requests: every earlier
			// event is stored or held by then.
			waitForLong(t, "the earlier events stored or held", 30*time.Second, func() bool { return sink.accounted(gate) })
			k.send(gate) // spooled; its events refused by the receiver
			waitForLong(t, "the gated body read", 30*time.Second, sink.refusedAny)
			if _, err := os.Stat(filepath.Join(spoolDir, segName(2))); err != nil {
				t.Fatalf("%v: segment 1 is not sealed: the segments do not fit the test (segmentBytes)", err)
			}
			if _, err := os.Stat(filepath.Join(spoolDir, firstSeg)); err != nil {
				// An error; the test goes on to show what it loses.
				t.Errorf("%v: segment 1 is gone while it holds seq %d, not acked (or the segments do not fit the test)", err, holdSeq)
			}
			d.trace(t, "-P", filepath.Join(spoolDir, m.file), "-e", "trace=/^"+m.call,
				"-e", fmt.Sprintf("inject=/^%s:delay_%s=%s", m.call, m.when, hold))
			sink.release()
			waitForLong(t, "the moment", 30*time.Second, func() bool { return m.at(t, spoolDir) })
			d.kill()

			sink.open()
			d = start(t, dir, config)
			k.send(gate + killBody)
			k.waitDelivered(sink)
			d.stop(t)
			if strings.Contains(d.logs.String(), "spool: records") {
				t.Errorf("the restarted spool reported records skipped or missing:\n%s", d.logs.String())
			}
			t.Logf("%d events acknowledged, %d delivered, %d duplicates", len(k.acked), len(sink.got.seen), sink.got.dups)
		})
	}
}

// savedPos is the read position a spool saves in position.json.
type savedPos struct {
	Seg uint64 `json:"segment"`
	Off int64  `json:"offset"`
}

// saved returns the position saved in the spool directory dir, nil if
// none is (a blank placeholder).
func saved(t *testing.T, dir string) *savedPos {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "position.json"))
	if os.IsNotExist(err) || len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	must(t, err)
	var p savedPos
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("position.json %q: %v", b, err)
	}
	return &p
}

// gatedSink is an http destination's receiver of raw lines {"seq":N,...}:
// it holds its answer to the first request with seq hold until release
// is called, answers 503 to a request holding a seq at or past gate until
// open is called, and stores the others.
type gatedSink struct {
	t        *testing.T
	hold     int64
	gate     int64
	released chan struct{}
	once     sync.Once

	mu      sync.Mutex
	held    seqs // the events of the request with seq hold
	opened  bool
	refused bool
	got     seqs // the events answered 200
}

func newGatedSink(t *testing.T, hold, gate int64) *gatedSink {
	return &gatedSink{t: t, hold: hold, gate: gate, released: make(chan struct{}), got: seqs{parse: rawSeq}}
}

func (s *gatedSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	req := seqs{parse: rawSeq}
	req.addLines(s.t, body)
	s.mu.Lock()
	if req.has(s.hold) && s.held.seen == nil {
		s.held = req
		s.mu.Unlock()
		<-s.released
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	if !s.opened {
		for seq := range req.seen {
			if seq >= s.gate {
				s.refused = true
				http.Error(w, "gated", http.StatusServiceUnavailable)
				return
			}
		}
	}
	for seq := range req.seen {
		s.got.add(seq)
	}
}

func (s *gatedSink) release() { s.once.Do(func() { close(s.released) }) }

func (s *gatedSink) open() { s.mu.Lock(); s.opened = true; s.mu.Unlock() }

// accounted reports whether every seq before n is stored or held.
func (s *gatedSink) accounted(n int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for seq := range n {
		if !s.got.has(seq) && !s.held.has(seq) {
			return false
		}
	}
	return true
}

func (s *gatedSink) refusedAny() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.refused }

// read and has make the sink a destination killSender.waitDelivered reads.
func (s *gatedSink) read(*testing.T) {}

func (s *gatedSink) has(seq int64) bool { s.mu.Lock(); defer s.mu.Unlock(); return s.got.has(seq) }
