package file_test

import (
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/file"
)

// TestRetention puts rotated files of earlier runs on disk, with names
// rotated at known times, beside files that only look like them; it then
// runs a destination that prunes at start and rotates once. Only the
// destination's own rotated files that retention does not keep are
// deleted: at start, and again after the rotation.
func TestRetention(t *testing.T) {
	now := time.Now().UTC()
	ago := func(d time.Duration) string { return now.Add(-d).Format("20060102T150405Z") }
	for _, tc := range []struct {
		name        string
		path        string // relative to the test's directory
		rotatedPath string
		compression string
		rotated     func(ts string) string // a rotated file's name for ts
		retention   file.Retention
		// The earlier rotated files (by age in hours, "1-1" for the "-1"
		// suffix) kept at start, and after the rotation.
		keptAtStart, keptAfter []string
	}{
		{"keep all by default", "events.log", "", "", func(ts string) string { return "events-" + ts + ".log" },
			file.Retention{}, []string{"1", "1-1", "2", "3", "old"}, []string{"1", "1-1", "2", "3", "old"}},
		{"maxAge", "events.log", "", "", func(ts string) string { return "events-" + ts + ".log" },
			file.Retention{MaxAge: 90 * time.Minute}, []string{"1", "1-1"}, []string{"1", "1-1"}},
		{"maxFiles", "events.log", "", "", func(ts string) string { return "events-" + ts + ".log" },
			file.Retention{MaxFiles: 3}, []string{"1", "1-1", "2"}, []string{"1", "1-1"}},
		{"both", "events.log", "", "", func(ts string) string { return "events-" + ts + ".log" },
			file.Retention{MaxFiles: 4, MaxAge: 150 * time.Minute}, []string{"1", "1-1", "2"}, []string{"1", "1-1", "2"}},
		{"gzip, rotated into another directory", "events.ndjson.gz", "{dir}archive/{name}.{time}{ext}", "gzip",
			func(ts string) string { return "archive/events." + ts + ".ndjson.gz" },
			file.Retention{MaxFiles: 2}, []string{"1", "1-1"}, []string{"1-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name string) {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("x\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			earlier := map[string]string{ // by label
				"1": tc.rotated(ago(time.Hour)), "2": tc.rotated(ago(2 * time.Hour)),
				"3": tc.rotated(ago(3 * time.Hour)), "old": tc.rotated(ago(6 * 365 * 24 * time.Hour)),
			}
			one := earlier["1"]
			ext := ".log"
			if tc.compression == "gzip" {
				ext = ".ndjson.gz"
			}
			earlier["1-1"] = strings.TrimSuffix(one, ext) + "-1" + ext
			for _, name := range earlier {
				write(name)
			}
			// Files that are not this destination's rotated files.
			foreign := []string{tc.rotated("notatime"), tc.rotated(ago(5*time.Hour)) + ".bak",
				"other-" + ago(4*time.Hour) + ".log", strings.Replace(tc.rotated(ago(4*time.Hour)), "events", "events2", 1),
				strings.TrimSuffix(tc.rotated(ago(4*time.Hour)), ext) + "-x" + ext}
			for _, name := range foreign {
				write(name)
			}
			if err := os.MkdirAll(filepath.Join(dir, tc.rotated(ago(7*time.Hour))), 0o755); err != nil { // a directory
				t.Fatal(err)
			}
			foreign = append(foreign, tc.rotated(ago(7*time.Hour)))

			path := filepath.Join(dir, tc.path)
			d, err := file.New(file.Config{Path: path, Format: "raw", Compression: tc.compression, MaxBytes: 4,
				RotatedPath: tc.rotatedPath, Retention: tc.retention, Batch: batch.Config{Count: 1}})
			if err != nil {
				t.Fatal(err)
			}
			check := func(when string, kept []string) {
				t.Helper()
				for label, name := range earlier {
					_, err := os.Stat(filepath.Join(dir, name))
					if want := slices.Contains(kept, label); want != (err == nil) {
						t.Errorf("%s: rotated file %s (%s h ago) kept = %v, want %v", when, name, label, err == nil, want)
					}
				}
				for _, name := range foreign {
					if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
						t.Errorf("%s: %s, not a rotated file of the destination, is gone: %v", when, name, err)
					}
				}
			}
			stop := start(t, d)
			sendAll(t, d, 1, nil) // acked: the file is open, and pruned
			check("at start", tc.keptAtStart)
			sendAll(t, d, 1, nil) // past maxBytes: rotates once
			stop()
			check("after rotating", tc.keptAfter)
			// Besides those, the directory holds the current file and the
			// one just rotated, the newest, which is always kept.
			known := map[string]bool{tc.path: true}
			for _, name := range append(slices.Collect(maps.Values(earlier)), foreign...) {
				known[filepath.FromSlash(name)] = true
			}
			var rest []string
			_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
				if rel, _ := filepath.Rel(dir, p); err == nil && !e.IsDir() && !known[rel] {
					rest = append(rest, rel)
				}
				return nil
			})
			if len(rest) != 1 || rest[0] != filepath.FromSlash(tc.rotated(now.Format("20060102T150405Z"))) &&
				!strings.Contains(rest[0], now.Format("20060102T")) {
				t.Errorf("new files %v, want one rotated file of today", rest)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("the current file: %v", err)
			}
		})
	}
}

func TestRetentionConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		r    file.Retention
		want string
	}{
		{file.Retention{MaxFiles: -1}, "retention.maxFiles: want 0 or more, got -1"},
		{file.Retention{MaxAge: -time.Second}, "retention.maxAge: want 0 or more, got -1s"},
	} {
		if _, err := file.New(file.Config{Path: "x", Retention: tc.r}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New with %+v = %v, want %q", tc.r, err, tc.want)
		}
	}
}

// TestRetentionClockSteppedBack rotates while the newest rotated files
// are named later than the clock now reads (it was ahead, then stepped
// back): the file just rotated holds the newest lines, so maxFiles must
// keep it and delete the oldest, not go by the clock.
func TestRetentionClockSteppedBack(t *testing.T) {
	dir := t.TempDir()
	later := func(d time.Duration) string {
		return filepath.Join(dir, "events-"+time.Now().UTC().Add(d).Format("20060102T150405Z")+".log")
	}
	older, newer := later(time.Hour), later(2*time.Hour)
	for _, p := range []string{older, newer} {
		if err := os.WriteFile(p, []byte("old\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "events.log")
	d, err := file.New(file.Config{Path: path, Format: "raw", MaxBytes: 4,
		Retention: file.Retention{MaxFiles: 2}, Batch: batch.Config{Count: 1}})
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, d)
	sendAll(t, d, 1, nil) // written to events.log
	sendAll(t, d, 1, nil) // past maxBytes: rotates the first line away
	stop()
	if _, err := os.Stat(older); err == nil {
		t.Errorf("%s, the oldest rotated file, is kept", filepath.Base(older))
	}
	if _, err := os.Stat(newer); err != nil {
		t.Errorf("%s: %v", filepath.Base(newer), err)
	}
	rotated, _ := filepath.Glob(filepath.Join(dir, "events-*.log"))
	var fresh []string
	for _, p := range rotated {
		if p != older && p != newer {
			fresh = append(fresh, filepath.Base(p))
		}
	}
	if len(fresh) != 1 {
		t.Fatalf("the rotated file with the newest lines is gone (rotated files: %v)", rotated)
	}
	if want := strings.TrimSuffix(filepath.Base(newer), ".log") + "-1.log"; fresh[0] != want {
		t.Errorf("rotated to %s, want %s: named after the newest, so that names keep the rotations' order", fresh[0], want)
	}
}

// TestRetentionDeletesOldestFirst prunes four rotated files down to one
// at start: they are deleted oldest first, so that a crash half-way
// leaves the newest ones, with no hole between them
// (TestFileRetentionKill, in e2e, kills sluiced there).
func TestRetentionDeletesOldestFirst(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UTC()
	var rotated []string // oldest first
	for h := 4; h >= 1; h-- {
		p := filepath.Join(dir, "events-"+now.Add(-time.Duration(h)*time.Hour).Format("20060102T150405Z")+".log")
		if err := os.WriteFile(p, []byte("old\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		rotated = append(rotated, p)
	}
	var logs strings.Builder
	d, err := file.New(file.Config{Path: filepath.Join(dir, "events.log"), Format: "raw",
		Retention: file.Retention{MaxFiles: 1}, Batch: batch.Config{Count: 1}},
		file.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, d)
	sendAll(t, d, 1, nil) // acked: the file is open, and pruned
	stop()
	var deleted []string
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "deleted a rotated file") {
			_, p, _ := strings.Cut(line, " path=")
			p, _, _ = strings.Cut(p, " ")
			deleted = append(deleted, p)
		}
	}
	if want := rotated[:3]; !slices.Equal(deleted, want) {
		t.Errorf("deleted %v, want %v: the oldest first", deleted, want)
	}
}
