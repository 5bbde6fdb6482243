package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// fpBytes is the file source's default fingerprintBytes.
const fpBytes = 1024

// logWriter appends numbered lines to files in a directory, as an
// application does, and on request creates a file, rotates app.log
// (rename, then a new app.log) or copytruncates it, as logrotate does. It
// remembers where each line went: the oracle of the crash test.
//
// A "stream" is what a file source identity names: content from offset 0
// of one file, up to a truncation. Its methods are safe for concurrent
// use.
type logWriter struct {
	dir, tmp string // the watched directory; one outside its glob

	mu        sync.Mutex
	streams   []*stream
	app       *stream   // the current app.log
	extras    []*stream // other files being appended
	streamOf  []int32   // seq → index of its stream
	offsetOf  []int64   // seq → offset in its stream
	rotations int
	created   int
	fps       map[[2]int]string // (stream, length) → fingerprint, once its head is that long
}

// stream is one identity's content.
type stream struct {
	idx  int      // in logWriter.streams
	f    *os.File // nil once no longer written
	path string   // where it was created
	off  int64    // its size
	head []byte   // its first fpBytes bytes
	offs []int64  // the offsets of its numbered lines, in order
}

// newLogWriter starts dir/app.log with pre lines that are not numbered:
// lines written before the first start, which startAt "end" skips.
func newLogWriter(t *testing.T, dir, tmp string, pre int) *logWriter {
	w := &logWriter{dir: dir, tmp: tmp, fps: map[[2]int]string{}}
	s, err := w.open(filepath.Join(dir, "app.log"))
	if err != nil {
		t.Fatal(err)
	}
	w.app = s
	var b []byte
	for i := range pre {
		b = fmt.Appendf(b, "pre=%010d %s\n", i, strings.Repeat("x", 80))
	}
	if err := w.write(s, b, nil); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *logWriter) open(path string) (*stream, error) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	s := &stream{idx: len(w.streams), f: f, path: path}
	w.streams = append(w.streams, s)
	return s, nil
}

// write appends b, whose numbered lines start at offsets offs (relative
// to b), to s.
func (w *logWriter) write(s *stream, b []byte, offs []int64) error {
	if _, err := s.f.Write(b); err != nil {
		return err
	}
	if len(s.head) < fpBytes {
		s.head = append(s.head, b[:min(len(b), fpBytes-len(s.head))]...)
	}
	for _, o := range offs {
		s.offs = append(s.offs, s.off+o)
	}
	s.off += int64(len(b))
	return nil
}

// lines appends n numbered lines to s.
func (w *logWriter) lines(s *stream, n int) error {
	idx := int32(s.idx)
	var b []byte
	offs := make([]int64, 0, n)
	for range n {
		seq := int64(len(w.streamOf))
		offs = append(offs, int64(len(b)))
		b = fmt.Appendf(b, "seq=%010d s=%05d %s\n", seq, idx, strings.Repeat("x", 70))
		w.streamOf = append(w.streamOf, idx)
		w.offsetOf = append(w.offsetOf, s.off+offs[len(offs)-1])
	}
	return w.write(s, b, offs)
}

// tick appends 3 lines to app.log and 1 to each other file.
func (w *logWriter) tick() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.lines(w.app, 3); err != nil {
		return err
	}
	for _, s := range w.extras {
		if err := w.lines(s, 1); err != nil {
			return err
		}
	}
	return nil
}

// written returns the number of numbered lines written: seqs 0..n-1.
func (w *logWriter) written() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return int64(len(w.streamOf))
}

// The operations on files. Each returns the index of the stream it
// starts. app.log is first made longer than two fingerprints, so that
// its identity is a full fingerprint (a shorter one is matched by inode
// too, which a copy does not share).
const (
	opCreate = iota
	opRotate
	opCopyTruncate
	nOps
)

var opNames = [nOps]string{"create", "rotate", "copytruncate"}

func (w *logWriter) do(op int) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch op {
	case opCreate:
		w.created++
		s, err := w.open(filepath.Join(w.dir, fmt.Sprintf("new-%d.log", w.created)))
		if err != nil {
			return 0, err
		}
		if err := w.lines(s, 50); err != nil {
			return 0, err
		}
		w.extras = append(w.extras, s)
		if len(w.extras) > 3 { // the oldest is no longer written
			w.extras[0].f.Close()
			w.extras[0].f = nil
			w.extras = w.extras[1:]
		}
		return len(w.streams) - 1, nil
	case opRotate, opCopyTruncate:
		for w.app.off < 2*fpBytes {
			if err := w.lines(w.app, 3); err != nil {
				return 0, err
			}
		}
		w.rotations++
		rotated := fmt.Sprintf("%s.%d", w.app.path, w.rotations)
		if op == opRotate {
			if err := w.app.f.Close(); err != nil {
				return 0, err
			}
			w.app.f = nil
			if err := os.Rename(w.app.path, rotated); err != nil {
				return 0, err
			}
			s, err := w.open(w.app.path)
			if err != nil {
				return 0, err
			}
			w.app = s
			return len(w.streams) - 1, nil
		}
		// copytruncate: the copy appears whole (renamed from outside the
		// glob); the writer holds the file (O_APPEND) across the truncation.
		b, err := os.ReadFile(w.app.path)
		if err != nil {
			return 0, err
		}
		tmp := filepath.Join(w.tmp, "copy")
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return 0, err
		}
		if err := os.Rename(tmp, rotated); err != nil {
			return 0, err
		}
		if err := w.app.f.Truncate(0); err != nil {
			return 0, err
		}
		s := &stream{idx: len(w.streams), f: w.app.f, path: w.app.path}
		w.app.f = nil
		w.streams = append(w.streams, s)
		w.app = s
		return len(w.streams) - 1, nil
	}
	return 0, fmt.Errorf("unknown op %d", op)
}

// close closes every file.
func (w *logWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.streams {
		if s.f != nil {
			s.f.Close()
			s.f = nil
		}
	}
}

// where returns the stream and offset of seq.
func (w *logWriter) where(seq int64) (int, int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return int(w.streamOf[seq]), w.offsetOf[seq]
}

// streamOfEntry returns the stream a checkpoint entry names: the one whose
// first FingerprintLen bytes hash to its fingerprint.
func (w *logWriter) streamOfEntry(e stateEntry) (int, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, s := range w.streams {
		if len(s.head) < e.FingerprintLen || e.FingerprintLen < 1 {
			continue
		}
		k := [2]int{i, e.FingerprintLen}
		fp, ok := w.fps[k]
		if !ok {
			h := sha256.Sum256(s.head[:e.FingerprintLen])
			fp = hex.EncodeToString(h[:])
			w.fps[k] = fp
		}
		if fp == e.Fingerprint {
			return i, true
		}
	}
	return 0, false
}

// pathOf returns where stream i was created.
func (w *logWriter) pathOf(i int) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return filepath.Base(w.streams[i].path)
}

// linesBetween returns the number of numbered lines of stream i whose
// offsets are in [from, to].
func (w *logWriter) linesBetween(i int, from, to int64) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	offs := w.streams[i].offs
	a := sort.Search(len(offs), func(k int) bool { return offs[k] >= from })
	b := sort.Search(len(offs), func(k int) bool { return offs[k] > to })
	return max(0, b-a)
}

// run calls tick every millisecond until stop is closed.
func (w *logWriter) run(t *testing.T, stop <-chan struct{}) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			if err := w.tick(); err != nil {
				t.Error(err)
				return
			}
		}
	}
}
