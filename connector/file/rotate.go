package file

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// open opens the file at Path for appending, after repairing what an
// earlier run may have left.
func (w *writer) open() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(w.cfg.Path), 0o755); err != nil {
		return fmt.Errorf("file: %w", err)
	}
	if st, err := os.Stat(w.cfg.Path); err == nil && st.Size() > 0 {
		if w.cfg.Compression == "gzip" {
			// A gzip member may be torn: start a new file.
			if err := w.renameAway(); err != nil {
				return err
			}
		} else if err := cutToLastLine(w.cfg.Path, st.Size()); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(w.cfg.Path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("file: %w", err)
	}
	if err := syncDir(filepath.Dir(w.cfg.Path)); err != nil {
		f.Close()
		return err
	}
	w.f, w.size, w.opened = f, st.Size(), w.o.clock()
	w.prune()
	return nil
}

func (w *writer) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("file: close: %w", err)
	}
	return nil
}

// rotate closes the file, renames it away and opens a new one.
func (w *writer) rotate() error {
	if err := w.f.Close(); err != nil {
		w.broken = fmt.Errorf("file: close for rotation: %w", err)
		return w.broken
	}
	w.f = nil
	if err := w.renameAway(); err != nil {
		w.broken = err
		return err
	}
	f, err := os.OpenFile(w.cfg.Path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		w.broken = fmt.Errorf("file: %w", err)
		return w.broken
	}
	if err := syncDir(filepath.Dir(w.cfg.Path)); err != nil {
		f.Close()
		w.broken = err
		return err
	}
	w.f, w.size, w.opened = f, 0, w.o.clock()
	w.o.log.Info("rotated", "path", w.cfg.Path)
	w.prune()
	return nil
}

// renameAway renames the file at Path to a free rotated name and syncs
// the directory. The name is never older than the newest rotated file's:
// if the clock reads earlier (it stepped back, or rotations come within
// a second), the file takes the newest's time and a higher "-N", so that
// retention, which goes by names, deletes the oldest lines first. The
// rotated files are listed once, at the first rotation; w.mu is held.
func (w *writer) renameAway() error {
	if !w.listed {
		if files, err := w.rotatedFiles(); err == nil && len(files) > 0 {
			w.newest = files[0]
		}
		w.listed = true
	}
	dir, name, ext := w.pathParts()
	at, first := w.o.clock().UTC().Truncate(time.Second), 0
	if !w.newest.at.IsZero() && !w.newest.at.Before(at) {
		at, first = w.newest.at, w.newest.n+1
	}
	ts := at.Format(rotatedLayout)
	stem := strings.NewReplacer("{dir}", dir, "{name}", name, "{time}", ts, "{ext}", "\x00").Replace(w.cfg.RotatedPath)
	for i := first; ; i++ {
		suffix := ""
		if i > 0 {
			suffix = "-" + strconv.Itoa(i)
		}
		to := strings.Replace(stem, "\x00", suffix+ext, 1)
		if !strings.Contains(stem, "\x00") {
			to = stem + suffix
		}
		if _, err := os.Lstat(to); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return fmt.Errorf("file: rotate: %w", err)
		}
		if err := os.Rename(w.cfg.Path, to); err != nil {
			return fmt.Errorf("file: rotate: %w", err)
		}
		w.newest = rotatedFile{to, at, i}
		if err := syncDir(filepath.Dir(to)); err != nil {
			return err
		}
		return syncDir(dir)
	}
}

// cutToLastLine truncates the file at path after its last newline: a line
// without one was torn by a crash and was never acked.
func cutToLastLine(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("file: %w", err)
	}
	defer f.Close()
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	end := size
	for end > 0 {
		start := max(0, end-chunk)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("file: repair: %w", err)
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			end = start + int64(i) + 1
			break
		}
		end = start
	}
	if end == size {
		return nil
	}
	if err := f.Truncate(end); err != nil {
		return fmt.Errorf("file: repair: %w", err)
	}
	return f.Sync()
}

func syncDir(dir string) error {
	if dir == "" {
		dir = "."
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("file: sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("file: sync directory: %w", err)
	}
	return nil
}
