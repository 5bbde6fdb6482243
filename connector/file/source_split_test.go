package file

import (
	"bytes"
	"testing"

	"github.com/sluicehq/sluice/event"
)

type piece struct {
	line     string
	off, end int64
	flags    event.Flags
}

func splitAll(max int, chunks ...[]byte) ([]piece, []byte) {
	sp := splitter{max: max}
	var out []piece
	emit := func(line []byte, off, end int64, flags event.Flags) {
		out = append(out, piece{string(line), off, end, flags})
	}
	for _, c := range chunks {
		sp.write(c, emit)
	}
	return out, sp.pend
}

// FuzzSplitter checks the line splitter. Invariants: pieces are at most
// max bytes and hold no newline; they are contiguous from offset 0; a
// split piece is exactly max bytes and is not followed by a newline in the
// input, a whole line is; the pieces, their newlines and the held
// remainder give back the input; the remainder has no newline and at most
// max bytes; and cutting the input into two writes anywhere changes
// nothing.
func FuzzSplitter(f *testing.F) {
	f.Add([]byte("a\nbb\n\nccc"), 2, 1)
	f.Add([]byte("0123456789012345678901234\nshort\n"), 10, 5)
	f.Add([]byte("exactly10!\n"), 10, 10)
	f.Add([]byte("\r\n\n"), 1, 0)
	f.Fuzz(func(t *testing.T, in []byte, max, cut int) {
		if max < 1 || max > 64 {
			max = 1 + (max%64+64)%64
		}
		pieces, rest := splitAll(max, in)
		var rebuilt []byte
		var off int64
		for i, p := range pieces {
			if len(p.line) > max || bytes.IndexByte([]byte(p.line), '\n') >= 0 {
				t.Fatalf("piece %d %q: longer than %d or holds a newline", i, p.line, max)
			}
			if p.off != off {
				t.Fatalf("piece %d starts at %d, want %d", i, p.off, off)
			}
			rebuilt = append(rebuilt, p.line...)
			if p.flags == event.Split {
				if len(p.line) != max || p.end != p.off+int64(max) {
					t.Fatalf("split piece %d %q: want %d bytes", i, p.line, max)
				}
			} else {
				rebuilt = append(rebuilt, '\n')
				if p.end != p.off+int64(len(p.line))+1 {
					t.Fatalf("piece %d end %d, want %d", i, p.end, p.off+int64(len(p.line))+1)
				}
			}
			off = p.end
		}
		rebuilt = append(rebuilt, rest...)
		if !bytes.Equal(rebuilt, in) {
			t.Fatalf("rebuilt %q, want %q", rebuilt, in)
		}
		if len(rest) > max || bytes.IndexByte(rest, '\n') >= 0 {
			t.Fatalf("remainder %q: longer than %d or holds a newline", rest, max)
		}
		if len(in) > 0 {
			c := (cut%len(in) + len(in)) % len(in)
			p2, rest2 := splitAll(max, in[:c], in[c:])
			if len(p2) != len(pieces) || !bytes.Equal(rest, rest2) {
				t.Fatalf("cut at %d: %d pieces, want %d", c, len(p2), len(pieces))
			}
			for i := range p2 {
				if p2[i] != pieces[i] {
					t.Fatalf("cut at %d: piece %d %+v, want %+v", c, i, p2[i], pieces[i])
				}
			}
		}
	})
}
