package spool

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// damage damages the spool in dir; the recovery and inspection tests are
// tables of them.
type damage = func(t *testing.T, dir string)

// flipByte flips bits of the byte at off in segment id.
func flipByte(id uint64, off int64) damage {
	return func(t *testing.T, dir string) {
		b, err := os.ReadFile(segmentPath(dir, id))
		if err != nil {
			t.Fatal(err)
		}
		b[off] ^= 0x40
		if err := os.WriteFile(segmentPath(dir, id), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// appendToSegment appends b to segment id.
func appendToSegment(id uint64, b []byte) damage {
	return func(t *testing.T, dir string) {
		f, err := os.OpenFile(segmentPath(dir, id), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
	}
}

// truncateSegment cuts segment id to size bytes.
func truncateSegment(id uint64, size int64) damage {
	return func(t *testing.T, dir string) {
		if err := os.Truncate(segmentPath(dir, id), size); err != nil {
			t.Fatal(err)
		}
	}
}

// removeFile deletes the file name of the spool, a segment or the
// position file, if it exists.
func removeFile(name string) damage {
	return func(t *testing.T, dir string) {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
}

// both applies a, then b.
func both(a, b damage) damage {
	return func(t *testing.T, dir string) { a(t, dir); b(t, dir) }
}
