package daemon_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/daemon"
)

// inspectReport is one element of "sluiced spool inspect --json".
type inspectReport struct {
	Buffer   string `json:"buffer"`
	Config   string `json:"config"`
	Unused   bool   `json:"unused"`
	Dir      string
	Records  int64
	Unacked  int64
	Segments []struct{ Name string }
}

// spoolInspect runs "sluiced spool inspect" on config (written to a
// file) and returns its text and JSON reports.
func spoolInspect(t *testing.T, r *daemon.Registry, config string) (string, []inspectReport) {
	t.Helper()
	cfgFile := filepath.Join(t.TempDir(), "sluice.hujson")
	if err := os.WriteFile(cfgFile, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	var text, js, stderr bytes.Buffer
	if code := daemon.Main([]string{"spool", "inspect", cfgFile}, &text, &stderr, r); code != 0 {
		t.Fatalf("spool inspect exit %d: %s", code, stderr.String())
	}
	if code := daemon.Main([]string{"spool", "inspect", "--json", cfgFile}, &js, &stderr, r); code != 0 {
		t.Fatalf("spool inspect --json exit %d: %s", code, stderr.String())
	}
	var reps []inspectReport
	if err := json.Unmarshal(js.Bytes(), &reps); err != nil || reps == nil {
		t.Fatalf("spool inspect --json printed %q: %v; want a JSON array", js.String(), err)
	}
	return text.String(), reps
}

// "sluiced spool inspect" lists, after the config's disk buffers, the
// directories under <dataDir>/spool that none of them uses, marked unused,
// with their records and unacked records and, if they hold some, how to
// deliver them; a buffer whose dir names its spool by another spelling
// of the same path uses it. The way the output gives then delivers them.
func TestSpoolInspectListsUnusedSpools(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	spools := filepath.Join(data, "spool")
	const n = 300
	r := fillTwoSpools(t, data, n)
	// An empty directory is an unused spool with nothing to deliver; a
	// file is no spool.
	if err := os.Mkdir(filepath.Join(spools, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(spools, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir) // for the relative dir below

	oldDir := filepath.Join(spools, "old")
	hint := fmt.Sprintf(`"buffer": {"type": "disk", "dir": %q}`, oldDir)
	type want struct {
		unacked int64
		buffer  string // "" for unused
	}
	for _, tc := range []struct {
		name   string
		config string
		want   map[string]want // by directory
		text   []string        // in the text output
		not    []string        // not in it
	}{
		{
			name: "old removed",
			config: fmt.Sprintf(`{"dataDir": %q,
				"sources": {"g": {"type": "gen"}},
				"destinations": {"keep": {"type": "hold", "buffer": {"type": "disk"}}}}`, data),
			want: map[string]want{filepath.Join(spools, "keep"): {n, "keep"}, oldDir: {n, ""}, filepath.Join(spools, "empty"): {0, ""}},
			text: []string{
				"buffer keep (destinations.keep.buffer): " + filepath.Join(spools, "keep"),
				"UNUSED spool " + oldDir + ": no disk buffer of this config uses it\n  ",
				fmt.Sprintf("%d records, %d unacknowledged", n, n),
				hint,
				"UNUSED spool " + filepath.Join(spools, "empty") + ": no disk buffer of this config uses it\n  0 segments, 0 bytes, 0 records, 0 unacknowledged",
				"nothing in it to deliver: it may be removed",
			},
			not: []string{"notes.txt", "no disk buffers in this config"},
		},
		{
			name:   "no disk buffer",
			config: fmt.Sprintf(`{"dataDir": %q, "sources": {"g": {"type": "gen"}}, "destinations": {"h": {"type": "hold"}}}`, data),
			want:   map[string]want{filepath.Join(spools, "keep"): {n, ""}, oldDir: {n, ""}, filepath.Join(spools, "empty"): {0, ""}},
			text:   []string{"no disk buffers in this config\n", "UNUSED spool " + oldDir, "UNUSED spool " + filepath.Join(spools, "keep")},
		},
		{
			name: "used by a relative dir",
			config: fmt.Sprintf(`{"dataDir": %q,
				"sources": {"g": {"type": "gen"}},
				"destinations": {"other": {"type": "hold", "buffer": {"type": "disk", "dir": "data/spool/./old/"}},
					"keep": {"type": "hold", "buffer": {"type": "disk"}}}}`, data),
			want: map[string]want{filepath.Join(spools, "keep"): {n, "keep"}, "data/spool/./old/": {n, "other"}, filepath.Join(spools, "empty"): {0, ""}},
			not:  []string{"UNUSED spool " + oldDir},
		},
		{
			name:   "no spool directory",
			config: fmt.Sprintf(`{"dataDir": %q, "sources": {"g": {"type": "gen"}}, "destinations": {"h": {"type": "hold"}}}`, filepath.Join(dir, "new")),
			want:   map[string]want{},
			text:   []string{"no disk buffers in this config\n"},
			not:    []string{"UNUSED"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, reps := spoolInspect(t, r, tc.config)
			for _, s := range tc.text {
				if !strings.Contains(text, s) {
					t.Errorf("spool inspect said:\n%s\nwant it to say %q", text, s)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(text, s) {
					t.Errorf("spool inspect said:\n%s\nwant it not to say %q", text, s)
				}
			}
			got := map[string]want{}
			for _, rep := range reps {
				if rep.Unused != (rep.Buffer == "") || rep.Unused != (rep.Config == "") {
					t.Errorf("report %+v: want a buffer and its config path, or unused and neither", rep)
				}
				got[rep.Dir] = want{rep.Unacked, rep.Buffer}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("spool inspect --json reported (dir: unacked, buffer) %v, want %v", got, tc.want)
			}
		})
	}

	// Delivered as the output says: a destination that no route feeds,
	// with a disk buffer in the unused spool's directory.
	out := filepath.Join(dir, "out.ndjson")
	drain := fmt.Sprintf(`{
		"dataDir": %q, "shutdownTimeout": "2s",
		"sources": {"g": {"type": "gen", "count": 0, "block": true}},
		"destinations": {
			"keep": {"type": "hold", "buffer": {"type": "disk"}},
			"drain": {"type": "file", "path": %q, %s},
		},
		"routes": [{"from": ["g"], "to": ["keep"]}],
	}`, data, out, hint)
	stop := start(t, drain, r)
	waitLong(t, "the unused spool to be delivered", func() bool {
		b, _ := os.ReadFile(out)
		return bytes.Count(b, []byte("\n")) >= n
	})
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if got := len(readLines(t, out)); got != n {
		t.Errorf("delivered %d events from the unused spool, want %d", got, n)
	}
	text, reps := spoolInspect(t, r, drain)
	var old []inspectReport
	for _, rep := range reps {
		if rep.Dir == oldDir {
			old = append(old, rep)
		}
	}
	if len(old) != 1 || old[0].Buffer != "drain" || old[0].Unacked != 0 {
		t.Errorf("after delivery, spool inspect said:\n%s\nwant old's spool used by drain, all acknowledged", text)
	}
}

// "sluiced spool verify" checks, after the config's disk buffers, the
// directories under <dataDir>/spool that none of them uses, each marked
// UNUSED with its unacked count; damage in one fails the verify (exit 1)
// as in a buffer, since its events are still to be delivered.
func TestSpoolVerifyChecksUnusedSpools(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	const n = 300
	r := fillTwoSpools(t, data, n)
	cfgFile := filepath.Join(dir, "sluice.hujson")
	second := fmt.Sprintf(`{"dataDir": %q,
		"sources": {"g": {"type": "gen"}},
		"destinations": {"keep": {"type": "hold", "buffer": {"type": "disk"}}}}`, data)
	if err := os.WriteFile(cfgFile, []byte(second), 0o644); err != nil {
		t.Fatal(err)
	}
	oldDir := filepath.Join(data, "spool", "old")
	verify := func(wantCode int, want ...string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := daemon.Main([]string{"spool", "verify", cfgFile}, &stdout, &stderr, r); code != wantCode {
			t.Errorf("spool verify exit %d, want %d: %s%s", code, wantCode, stdout.String(), stderr.String())
		}
		for _, w := range want {
			if !strings.Contains(stdout.String(), w) {
				t.Errorf("spool verify said:\n%s\nwant it to say %q", stdout.String(), w)
			}
		}
	}
	verify(0, fmt.Sprintf("buffer keep: ok: %d records", n),
		fmt.Sprintf("UNUSED spool %s: ok: %d records in ", oldDir, n),
		fmt.Sprintf("every checksum good; no disk buffer of this config uses it (%d unacknowledged)\n", n))

	// Damage one record of the unused spool's first segment.
	segs, _ := filepath.Glob(filepath.Join(oldDir, "*.seg"))
	if len(segs) < 2 {
		t.Fatalf("spool holds %d segments, want several", len(segs))
	}
	seg, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	seg[len(seg)/2] ^= 0xff
	if err := os.WriteFile(segs[0], seg, 0o644); err != nil {
		t.Fatal(err)
	}
	verify(1, fmt.Sprintf("buffer keep: ok: %d records", n),
		fmt.Sprintf("UNUSED spool %s: DAMAGED: 1 damaged regions, 1 records lost, 0 records that do not decode; no disk buffer of this config uses it", oldDir),
		"  damage: "+filepath.Base(segs[0])+" offset ")
}

// fillTwoSpools runs a config whose destinations "keep" and "old" have
// disk buffers under data and never deliver, until both spools hold
// n events, and stops it; it returns the registry the config ran with.
func fillTwoSpools(t *testing.T, data string, n int) *daemon.Registry {
	t.Helper()
	first := fmt.Sprintf(`{
		"dataDir": %q, "shutdownTimeout": "2s",
		"sources": {"g": {"type": "gen", "count": %d, "block": true}},
		"destinations": {
			"keep": {"type": "hold", "buffer": {"type": "disk", "segmentBytes": 16384}},
			"old": {"type": "hold", "buffer": {"type": "disk", "segmentBytes": 16384}},
		},
	}`, data, n)
	acked, h := &ackLog{}, &hold{}
	r := bufferRegistry(acked, h)
	stop := start(t, first, r)
	waitLong(t, "both spools to hold every event", func() bool {
		acked.mu.Lock()
		defer acked.mu.Unlock()
		h.mu.Lock()
		defer h.mu.Unlock()
		return acked.n == n && h.got == 2*n
	})
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	return r
}
