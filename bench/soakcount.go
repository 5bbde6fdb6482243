package main

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
)

// soakCounter checks a soak's output, where the load is sent over and
// over: it reads the file as it grows, counts how often each seq was
// written, and frees what it has read (punching a hole, so the file's
// size keeps growing but its pages are gone), so that a 30-minute soak
// needs no disk and no line escapes the count. Unlike truncating, a hole
// loses no line written between the last read and the cut.
type soakCounter struct {
	path    string
	f       *os.File
	off     int64 // bytes read
	freed   int64 // bytes before this offset are a hole
	counts  []uint32
	carry   []byte
	buf     []byte
	lines   int64
	noSeq   int64
	noHoles bool // the filesystem cannot punch holes
}

func newSoakCounter(path string, n int) *soakCounter {
	return &soakCounter{path: path, counts: make([]uint32, n), buf: make([]byte, 1<<20)}
}

// poll reads what was appended since the last call, counts its lines and
// punches a hole over the whole pages read.
func (c *soakCounter) poll() error {
	if c.f == nil {
		f, err := os.OpenFile(c.path, os.O_RDWR, 0) // read-write: fallocate(2) needs it
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		c.f = f
	}
	for {
		n, err := c.f.Read(c.buf)
		c.off += int64(n)
		c.carry = append(c.carry, c.buf[:n]...)
		rest := c.carry
		for {
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				break
			}
			c.lines++
			if seq, ok := findSeq(rest[:i]); ok && seq < len(c.counts) {
				c.counts[seq]++
			} else {
				c.noSeq++
			}
			rest = rest[i+1:]
		}
		c.carry = append(c.carry[:0], rest...)
		if err == io.EOF || n == 0 {
			break
		}
		if err != nil {
			return err
		}
	}
	if end := c.off &^ (1<<16 - 1); end > c.freed && !c.noHoles {
		err := punchHole(c.f, c.freed, end-c.freed)
		switch {
		case errors.Is(err, errors.ErrUnsupported):
			c.noHoles = true
			warnOnce("the soak's output filesystem cannot punch holes: the file keeps every line")
		case err != nil:
			return err
		}
		c.freed = end
	}
	return nil
}

// verdict compares the counts with sent lines of the load sent in order
// from frame 0, wrapping around: seq s was sent sent/n times, plus once
// if s < sent%n.
func (c *soakCounter) verdict(sent int64) Verdict {
	n := int64(len(c.counts))
	v := Verdict{Lines: int(c.lines), NoSeq: int(c.noSeq), Bytes: c.off}
	for s, got := range c.counts {
		want := sent / n
		if int64(s) < sent%n {
			want++
		}
		switch d := int64(got) - want; {
		case d < 0:
			v.Missing -= int(d)
		case d > 0:
			v.Duplicates += int(d)
		}
	}
	return v
}

func (c *soakCounter) close() {
	if c.f != nil {
		c.f.Close()
	}
}
