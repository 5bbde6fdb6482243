package file

import (
	"os"
	"path/filepath"
	"testing"
)

// TestUpgradeRewritten creates the moment between a read of a file whose
// fingerprint is short and the lengthening of that fingerprint: the file
// is truncated and written again there. The identity must keep the old
// fingerprint, so that the next read sees the file was rewritten, rather
// than take the new content's and skip its start; a file that only grew
// gets the longer fingerprint.
func TestUpgradeRewritten(t *testing.T) {
	cases := []struct {
		name      string
		change    func(path string) error
		upgraded  bool
		rewritten bool
	}{
		{"appended", func(path string) error {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteString("second line\n")
			return err
		}, true, false},
		{"truncated and written again", func(path string) error {
			return os.WriteFile(path, []byte("other content, longer than the first\n"), 0o644)
		}, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "a.log")
			if err := os.WriteFile(path, []byte("first line\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := NewSource(SourceConfig{Paths: []string{path}, StateDir: dir}, "t")
			if err != nil {
				t.Fatal(err)
			}
			r := &reader{s: s}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			tl := &tailer{f: f, fi: fi, path: path}
			if !r.identify(tl, fi.Size(), false) || tl.id == nil {
				t.Fatal("identify failed")
			}
			if r.rewritten(tl) {
				t.Fatal("rewritten before any change")
			}
			short := tl.id.fp
			if err := tc.change(path); err != nil {
				t.Fatal(err)
			}
			tl.pos = 20 // read past the short fingerprint
			r.upgrade(tl)
			if got := tl.id.fp != short; got != tc.upgraded {
				t.Errorf("fingerprint lengthened: %v, want %v", got, tc.upgraded)
			}
			if got := r.rewritten(tl); got != tc.rewritten {
				t.Errorf("rewritten: %v, want %v", got, tc.rewritten)
			}
		})
	}
}
