package framing_test

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"testing"

	"github.com/sluicehq/sluice/connector/syslog/framing"
)

// FuzzReader checks two things.
//
// Read as a stream, the input in any chunking (seeded by chunks, with
// empty reads and EOF delivered with the last bytes):
//
//   - Next never panics and ends with io.EOF, io.ErrUnexpectedEOF or an
//     error wrapping ErrMalformedCount;
//   - no frame is empty or longer than maxSize, and truncated frames are
//     exactly maxSize long;
//   - InputOffset never decreases, never passes the input's length, is at
//     least the sum of the frames' lengths, and equals the input's length
//     at io.EOF;
//   - the result is the same as when the input is read in one piece.
//
// Split at each 0xFF byte into a list of messages, the input is framed
// message by message, in octet counting or LF/CRLF/NUL-terminated framing
// as the bits of mask say (octet counting where the message could not be
// newline-framed), and reading the stream back gives the same list, each
// message cut to maxSize and flagged truncated if it was longer, also when
// the frames are kept (Keep) and read only at the end.
func FuzzReader(f *testing.F) {
	for _, tc := range readerTests {
		if len(tc.in) <= 1024 { // large seeds make minimisation slow
			f.Add([]byte(tc.in), uint16(tc.maxSize), uint64(7), uint64(0))
		}
	}
	f.Add([]byte("<13>a\xff5 <13>b\xff\xff\n\r\x00\xff"+string(message250(1))), uint16(100), uint64(3), uint64(0xAAAA))
	f.Add(octetStream(3, 40), uint16(30), uint64(1), uint64(1))
	// Plain lines, and after them a NUL trailer, a CR LF: MoreLines must stop.
	f.Add([]byte("<1>a\xff<2>b\xff<3>c\xff<4>d\xff<5>e\xff<6>f"), uint16(100), uint64(5), uint64(0o020040))
	f.Fuzz(func(t *testing.T, in []byte, maxSize16 uint16, chunks, mask uint64) {
		maxSize := 1 + int(maxSize16)%4096

		want, wantErr := readFrames(t, framing.NewReader(bytes.NewReader(in), maxSize), len(in), maxSize)
		got, err := readFrames(t, framing.NewReader(newChunkReader(in, chunks), maxSize), len(in), maxSize)
		if !equalFrames(got, want) || err.Error() != wantErr.Error() {
			t.Errorf("%q in chunks (seed %d): got %s, %v; in one piece: %s, %v", in, chunks, show(got), err, show(want), wantErr)
		}

		msgs := bytes.Split(in, []byte{0xFF})
		stream, want := frameAll(msgs, mask, maxSize)
		got, err = readFrames(t, framing.NewReader(newChunkReader(stream, chunks), maxSize), len(stream), maxSize)
		if !equalFrames(got, want) || err != io.EOF {
			t.Errorf("messages %q framed as %q (mask %x): got %s, %v; want %s", msgs, stream, mask, show(got), err, show(want))
		}
		z := framing.NewReader(newChunkReader(stream, chunks), maxSize)
		z.Keep(0)
		if got, err = readKept(z); !equalFrames(got, want) || err != io.EOF {
			t.Errorf("kept: messages %q framed as %q (mask %x): got %s, %v; want %s", msgs, stream, mask, show(got), err, show(want))
		}
		for _, keep := range []bool{false, true} {
			z := framing.NewReader(newChunkReader(stream, chunks), maxSize)
			if keep {
				z.Keep(0)
			}
			if got, err = readMoreLines(t, z); !equalFrames(got, want) || err != io.EOF {
				t.Errorf("with MoreLines (keep %v): messages %q framed as %q (mask %x): got %s, %v; want %s", keep, msgs, stream, mask, show(got), err, show(want))
			}
		}
	})
}

// readFrames reads z until an error, checking the invariants listed for
// FuzzReader, and returns the frames and the error.
func readFrames(t *testing.T, z *framing.Reader, size, maxSize int) ([]frame, error) {
	var got []frame
	total, last := 0, int64(0)
	for {
		msg, truncated, err := z.Next()
		off := z.InputOffset()
		if off < last || off > int64(size) {
			t.Fatalf("InputOffset %d after %d, input is %d bytes", off, last, size)
		}
		last = off
		if err != nil {
			if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.Is(err, framing.ErrMalformedCount) {
				t.Fatalf("unexpected error %v", err)
			}
			if err == io.EOF && off != int64(size) {
				t.Fatalf("InputOffset %d at EOF, input is %d bytes", off, size)
			}
			p := z.Partial()
			cutTruncated := len(got) > 0 && got[len(got)-1].truncated
			if off+int64(p) > int64(size) || err == io.EOF && p != 0 || err == io.ErrUnexpectedEOF && p == 0 && !cutTruncated {
				t.Fatalf("Partial %d at %v, InputOffset %d, input is %d bytes", p, err, off, size)
			}
			return got, err
		}
		if len(msg) == 0 || len(msg) > maxSize || truncated && len(msg) != maxSize {
			t.Fatalf("frame of %d bytes (truncated %v), maxSize %d", len(msg), truncated, maxSize)
		}
		if total += len(msg); int64(total) > off {
			t.Fatalf("%d bytes of frames but InputOffset %d", total, off)
		}
		got = append(got, frame{string(msg), truncated})
	}
}

// frameAll frames msgs into one stream and returns it with the frames a
// Reader should return. Empty messages cannot be framed and are left out.
func frameAll(msgs [][]byte, mask uint64, maxSize int) ([]byte, []frame) {
	var stream []byte
	var want []frame
	for i, m := range msgs {
		if len(m) == 0 {
			continue
		}
		bits := mask >> (3 * (i % 21)) & 7
		if bits&1 == 0 && newlineSafe(m) {
			stream = append(stream, m...)
			stream = append(stream, [...]string{"\n", "\r\n", "\x00", "\n"}[bits>>1]...)
		} else {
			stream = strconv.AppendInt(stream, int64(len(m)), 10)
			stream = append(stream, ' ')
			stream = append(stream, m...)
			if bits&2 != 0 { // some senders end octet-counted frames with LF
				stream = append(stream, '\n')
			}
		}
		if len(m) > maxSize {
			want = append(want, tr(string(m[:maxSize])))
		} else {
			want = append(want, f(string(m)))
		}
	}
	return stream, want
}

// newlineSafe reports whether m survives non-transparent framing: it does
// not start with a digit, holds no LF or NUL, and does not end with CR.
func newlineSafe(m []byte) bool {
	return m[0]-'0' >= 10 && bytes.IndexByte(m, '\n') < 0 && bytes.IndexByte(m, 0) < 0 && m[len(m)-1] != '\r'
}

// chunkReader returns data in pseudo-random pieces (xorshift, seeded),
// sometimes empty, and io.EOF with the last piece or after it.
type chunkReader struct {
	data  []byte
	state uint64
}

func newChunkReader(data []byte, seed uint64) *chunkReader {
	return &chunkReader{data: data, state: seed | 1}
}

func (r *chunkReader) next() uint64 {
	r.state ^= r.state << 13
	r.state ^= r.state >> 7
	r.state ^= r.state << 17
	return r.state
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	x := r.next()
	if x%16 == 0 {
		return 0, nil
	}
	n := min(len(p), len(r.data), 1+int(x>>8%300))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	if len(r.data) == 0 && x&0x10 != 0 {
		return n, io.EOF
	}
	return n, nil
}

// TestReaderKeep reads a 3 MB stream of both framings, with truncated
// frames, in pseudo-random chunks, through a Reader that keeps frames: the
// frames, kept as returned (not copied) until the end, are still the
// messages sent, so no buffer was written over after a frame was returned.
func TestReaderKeep(t *testing.T) {
	const maxSize = 500
	rng := newChunkReader(nil, 42)
	var msgs [][]byte
	for i := range 10000 {
		m, n := message250(i), 1+int(rng.next()%600)
		for len(m) < n {
			m = append(m, m...)
		}
		m = m[:n]
		if m[0]-'0' < 10 {
			m[0] = '<' // keep digits for octet counts
		}
		msgs = append(msgs, m)
	}
	for _, seed := range []uint64{1, 7, 1 << 40} {
		stream, want := frameAll(msgs, 0x5A5A5A5A5A5A5A5A^seed, maxSize)
		z := framing.NewReader(newChunkReader(stream, seed), maxSize)
		z.Keep(0)
		got, err := readKept(z)
		if err != io.EOF {
			t.Fatal(err)
		}
		if !equalFrames(got, want) {
			t.Errorf("seed %d: %d frames kept, %d sent; first difference at %d", seed, len(got), len(want), firstDiff(got, want))
		}
		if len(stream) < 10*(64<<10) {
			t.Fatalf("the stream (%d bytes) is too short to fill several buffers", len(stream))
		}
	}
}

// readKept reads z until an error, keeping the frames as returned, and
// copies them only then.
func readKept(z *framing.Reader) ([]frame, error) {
	var kept [][]byte
	var flags []bool
	var err error
	for {
		var msg []byte
		var truncated bool
		if msg, truncated, err = z.Next(); err != nil {
			break
		}
		kept, flags = append(kept, msg), append(flags, truncated)
	}
	got := make([]frame, len(kept))
	for i := range kept {
		got[i] = frame{string(kept[i]), flags[i]}
	}
	return got, err
}

func firstDiff(a, b []frame) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// readMoreLines reads z as a caller of MoreLines does: after each plain
// line, it takes the plain lines that follow at once. It checks that they
// follow the line in the buffer, that each is a plain line (no CR before
// its LF, no NUL, not empty) and that ends marks where each ends, and
// returns every frame, those of MoreLines as Next would have returned
// them.
func readMoreLines(t *testing.T, z *framing.Reader) ([]frame, error) {
	t.Helper()
	var got []frame
	for {
		msg, truncated, err := z.Next()
		if err != nil {
			return got, err
		}
		got = append(got, frame{string(msg), truncated})
		line := z.Line()
		if line == nil {
			continue
		}
		const base = 7
		more, ends := z.MoreLines([]int{-1}, base)
		if z.Line() != nil {
			t.Fatal("Line is not nil after MoreLines")
		}
		if len(more) > 0 && (cap(line)-len(line) < len(more) || &line[:len(line)+1][len(line)] != &more[0]) {
			t.Fatalf("MoreLines' %q does not follow the line %q in the buffer", more, line)
		}
		if ends[0] != -1 || len(ends) == 1 && len(more) > 0 {
			t.Fatalf("ends %v for %q: not appended to", ends, more)
		}
		start := 0
		for _, end := range ends[1:] {
			if end -= base; end <= start || end > len(more) {
				t.Fatalf("ends %v (base %d) for %d bytes", ends, base, len(more))
			}
			l := more[start:end]
			if len(l) < 2 || bytes.IndexByte(l, '\n') != len(l)-1 || bytes.IndexByte(l, 0) >= 0 || l[len(l)-2] == '\r' {
				t.Fatalf("MoreLines gave %q, not a plain line", l)
			}
			got = append(got, f(string(l[:len(l)-1])))
			start = end
		}
		if start != len(more) {
			t.Fatalf("ends %v (base %d) stop short of the %d bytes", ends, base, len(more))
		}
	}
}
