package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"syscall"
	"time"
)

// tmpfsMagic is TMPFS_MAGIC from statfs(2).
const tmpfsMagic = 0x01021994

// IsTmpfs reports whether dir is on a tmpfs.
func IsTmpfs(dir string) (bool, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return false, err
	}
	return st.Type == tmpfsMagic, nil
}

// Watcher counts the newlines of a file as it grows, reading only what
// was appended since the last call.
type Watcher struct {
	Path string
	// Stamps, if set, get the time each seq is first seen: every new line
	// is parsed, at the cost of harness CPU.
	Stamps *Stamps
	tally  *Tally
	carry  []byte
	f      *os.File
	lines  int
	size   int64
	buf    []byte
}

// Poll reads what was appended and returns the line and byte counts.
func (w *Watcher) Poll() (lines int, size int64, err error) {
	if w.f == nil {
		f, err := os.Open(w.Path)
		if errors.Is(err, fs.ErrNotExist) {
			return 0, 0, nil
		}
		if err != nil {
			return 0, 0, err
		}
		w.f, w.buf = f, make([]byte, 1<<20)
	}
	for {
		n, err := w.f.Read(w.buf)
		if w.Stamps != nil {
			if w.tally == nil {
				w.tally = NewTally(len(w.Stamps.Recv), w.Stamps)
			}
			w.carry = append(w.carry, w.buf[:n]...)
			rest := w.tally.AddLines(w.carry)
			w.carry = append(w.carry[:0], rest...)
		}
		w.lines += bytes.Count(w.buf[:n], []byte{'\n'})
		w.size += int64(n)
		if err == io.EOF || n == 0 {
			return w.lines, w.size, nil
		}
		if err != nil {
			return w.lines, w.size, err
		}
	}
}

// Close closes the file.
func (w *Watcher) Close() {
	if w.f != nil {
		w.f.Close()
	}
}

// Poller counts a sink's lines and bytes so far: a Watcher or a Tally.
type Poller interface {
	Poll() (lines int, size int64, err error)
}

// WaitOptions bound WaitLines.
type WaitOptions struct {
	Want     int           // lines expected
	Interval time.Duration // between polls
	Quiet    time.Duration // give up once sending is done and the file has not grown for this long
	Timeout  time.Duration // give up after this long in all
}

// WaitLines polls w until it holds Want lines, or gives up (see
// WaitOptions). sent is closed when the generator is done. It returns the
// time the last poll saw the final count.
func WaitLines(w Poller, o WaitOptions, sent <-chan struct{}) (lines int, at time.Time, err error) {
	start := time.Now()
	lastGrowth, lastSize := start, int64(-1)
	done := false
	for {
		lines, size, err := w.Poll()
		now := time.Now()
		if err != nil {
			return lines, now, err
		}
		if lines >= o.Want {
			return lines, now, nil
		}
		if size != lastSize {
			lastSize, lastGrowth, at = size, now, now
		}
		if !done {
			select {
			case <-sent:
				done, lastGrowth = true, now
			default:
			}
		}
		if done && now.Sub(lastGrowth) > o.Quiet {
			return lines, at, nil
		}
		if now.Sub(start) > o.Timeout {
			return lines, at, fmt.Errorf("timed out after %v with %d of %d lines", o.Timeout, lines, o.Want)
		}
		time.Sleep(o.Interval)
	}
}

// Verdict is what the oracle found in an output file.
type Verdict struct {
	Lines      int // lines in the file
	Missing    int // sequence numbers sent but not found
	Duplicates int // lines whose sequence number was seen before
	Reordered  int // lines whose sequence number is lower than the previous line's
	NoSeq      int // lines without a sequence number
	Bytes      int64
}

// Check reads path and checks that it holds seq 0..n-1 exactly once
// each (see Tally).
func Check(path string, n int) (Verdict, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Verdict{Missing: n}, nil
	}
	if err != nil {
		return Verdict{}, err
	}
	defer f.Close()
	t := NewTally(n, nil)
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: keep its head, skip the rest.
			head := slices.Clone(line)
			skipped := int64(0)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				skipped += int64(len(line))
			}
			t.AddLine(head)
			t.v.Bytes += skipped
			line = nil
		}
		if len(line) > 0 {
			t.AddLine(line)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return t.Verdict(), err
		}
	}
	return t.Verdict(), nil
}

// findSeq returns the number after the first "seq=" of line, which must
// have 10 digits.
func findSeq(line []byte) (int, bool) {
	i := bytes.Index(line, []byte("seq="))
	if i < 0 || len(line) < i+14 {
		return 0, false
	}
	seq := 0
	for _, c := range line[i+4 : i+14] {
		if c < '0' || c > '9' {
			return 0, false
		}
		seq = seq*10 + int(c-'0')
	}
	return seq, true
}
