package framing_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/sluicehq/sluice/connector/syslog/framing"
)

// frame is one result of Next; a frame with truncated set says so.
type frame struct {
	msg       string
	truncated bool
}

func f(msg string) frame  { return frame{msg: msg} }
func tr(msg string) frame { return frame{msg: msg, truncated: true} }

var readerTests = []struct {
	name    string
	in      string
	maxSize int // 0: default
	want    []frame
	wantErr error // after the frames; io.EOF if nil
	partial int   // Partial() after the error: bytes of a frame cut short
}{
	{name: "empty", in: ""},
	{name: "only-trailers", in: "\n\r\n\x00\n"},
	{name: "newline", in: "<13>a\n<13>bc\n", want: []frame{f("<13>a"), f("<13>bc")}},
	{name: "newline-crlf", in: "<13>a\r\n<13>b\r\n", want: []frame{f("<13>a"), f("<13>b")}},
	{name: "newline-nul", in: "<13>a\x00<13>b\x00", want: []frame{f("<13>a"), f("<13>b")}},
	{name: "newline-cr-nul", in: "<13>a\r\x00", want: []frame{f("<13>a")}},
	// Where the first NUL is is remembered across frames and reads.
	{name: "nul-after-lines", in: "<13>a\n<13>b\n<13>c\x00<13>d\n<13>e\x00\x00<13>f\n", want: []frame{f("<13>a"), f("<13>b"), f("<13>c"), f("<13>d"), f("<13>e"), f("<13>f")}},
	{name: "nul-in-line-after-octet", in: "3 a\x00b<13>c\x00d\n", want: []frame{f("a\x00b"), f("<13>c"), f("d")}},
	{name: "newline-inner-cr-kept", in: "<13>a\rb\n", want: []frame{f("<13>a\rb")}},
	{name: "newline-only-last-cr-removed", in: "<13>a\r\r\n", want: []frame{f("<13>a\r")}},
	{name: "newline-not-pri", in: "  hello\nworld\n", want: []frame{f("  hello"), f("world")}},
	{name: "empty-lines-skipped", in: "\n\n<13>a\n\r\n\n\x00<13>b\n\n", want: []frame{f("<13>a"), f("<13>b")}},
	{name: "final-line-without-lf", in: "<13>a\n<13>b", want: []frame{f("<13>a"), f("<13>b")}},
	{name: "final-line-cr-only", in: "<13>a\r", want: []frame{f("<13>a")}},
	{name: "octet", in: "5 <13>a6 <13>bc", want: []frame{f("<13>a"), f("<13>bc")}},
	{name: "octet-transparent", in: "8 a\nb\x00c\r\n 2 xy", want: []frame{f("a\nb\x00c\r\n "), f("xy")}},
	{name: "octet-then-lf", in: "5 <13>a\n5 <13>b\n", want: []frame{f("<13>a"), f("<13>b")}},
	{name: "octet-then-crlf", in: "5 <13>a\r\n5 <13>b\r\n", want: []frame{f("<13>a"), f("<13>b")}},
	{name: "mixed", in: "5 <13>a<13>b\n6 <13>cd\n\n<13>e\r\n3 xyz<13>f",
		want: []frame{f("<13>a"), f("<13>b"), f("<13>cd"), f("<13>e"), f("xyz"), f("<13>f")}},
	{name: "long-count", in: "13 <13>1 - - - -", want: []frame{f("<13>1 - - - -")}},

	{name: "oversized-line", in: "abcdefgh\nxyz\n", maxSize: 4, want: []frame{tr("abcd"), f("xyz")}},
	{name: "oversized-line-rest-looks-like-octet", in: "abcd5 xyzw\n3 abc", maxSize: 4, want: []frame{tr("abcd"), f("abc")}},
	{name: "oversized-line-at-eof", in: "abcdefgh", maxSize: 4, want: []frame{tr("abcd")}},
	{name: "oversized-line-by-one", in: "abcde\r\nxy\n", maxSize: 4, want: []frame{tr("abcd"), f("xy")}},
	{name: "max-line-with-crlf", in: "abcd\r\nxy\n", maxSize: 4, want: []frame{f("abcd"), f("xy")}},
	{name: "max-line-with-nul", in: "abcd\x00xy\n", maxSize: 4, want: []frame{f("abcd"), f("xy")}},
	{name: "oversized-line-long", in: strings.Repeat("x", 100000) + "\n<13>a\n", maxSize: 10,
		want: []frame{tr("xxxxxxxxxx"), f("<13>a")}},
	{name: "oversized-octet", in: "8 abcdefgh4 <13>", maxSize: 4, want: []frame{tr("abcd"), f("<13>")}},
	{name: "oversized-octet-rest-looks-like-frames", in: "9 12\n4 5\nxy3 abc", maxSize: 4, want: []frame{tr("12\n4"), f("abc")}},
	{name: "max-octet", in: "4 abcd4 efgh", maxSize: 4, want: []frame{f("abcd"), f("efgh")}},
	{name: "oversized-octet-long", in: "100000 " + strings.Repeat("y", 100000) + "3 abc", maxSize: 10,
		want: []frame{tr("yyyyyyyyyy"), f("abc")}},

	{name: "eof-in-octet-frame", in: "5 <13>a10 abc", want: []frame{f("<13>a")}, wantErr: io.ErrUnexpectedEOF, partial: 6},
	{name: "eof-in-count", in: "5 <13>a12", want: []frame{f("<13>a")}, wantErr: io.ErrUnexpectedEOF, partial: 2},
	{name: "eof-after-count", in: "12 ", wantErr: io.ErrUnexpectedEOF, partial: 3},
	{name: "eof-in-discarded-rest", in: "8 abcdef", maxSize: 4, want: []frame{tr("abcd")}, wantErr: io.ErrUnexpectedEOF},
	// Digits followed by anything but SP are no octet count: the frame is
	// a line (an nginx line starts with an IP address, a log with a date).
	{name: "digits-then-letter-is-a-line", in: "<13>a\n12x abc", want: []frame{f("<13>a"), f("12x abc")}},
	{name: "date-line", in: "2024-01-01 log line\n", want: []frame{f("2024-01-01 log line")}},
	{name: "ip-line", in: "203.0.113.9 - - [24/Nov/2026] \"GET /\" 200\n<13>b\n", want: []frame{f("203.0.113.9 - - [24/Nov/2026] \"GET /\" 200"), f("<13>b")}},
	{name: "malformed-zero", in: "0 ", wantErr: framing.ErrMalformedCount},
	{name: "malformed-leading-zero", in: "05 <13>a", wantErr: framing.ErrMalformedCount},
	{name: "too-many-digits-is-a-line", in: "1234567890123", want: []frame{f("1234567890123")}},
	{name: "malformed-over-cap", in: "99999999 x", wantErr: framing.ErrMalformedCount},
}

// readers returns ways of reading in: at once, one byte at a time, half
// of each request, with EOF along with the last bytes, and split in two at
// every byte boundary.
func readers(in string) map[string]func() io.Reader {
	rs := map[string]func() io.Reader{
		"whole":   func() io.Reader { return strings.NewReader(in) },
		"onebyte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(in)) },
		"half":    func() io.Reader { return iotest.HalfReader(strings.NewReader(in)) },
		"dataerr": func() io.Reader { return iotest.DataErrReader(strings.NewReader(in)) },
	}
	if len(in) <= 200 {
		for k := 1; k < len(in); k++ {
			rs[fmt.Sprintf("split%d", k)] = func() io.Reader {
				return io.MultiReader(strings.NewReader(in[:k]), strings.NewReader(in[k:]))
			}
		}
	}
	return rs
}

// readAll reads every frame from z, copying them, until the first error.
func readAll(z *framing.Reader) ([]frame, error) {
	var got []frame
	for {
		msg, truncated, err := z.Next()
		if err != nil {
			return got, err
		}
		got = append(got, frame{string(msg), truncated})
	}
}

func TestReader(t *testing.T) {
	for _, tc := range readerTests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr := tc.wantErr
			if wantErr == nil {
				wantErr = io.EOF
			}
			for how, newReader := range readers(tc.in) {
				for _, keep := range []bool{false, true} {
					z := framing.NewReader(newReader(), tc.maxSize)
					if keep {
						z.Keep(0)
						how += "/keep"
					}
					got, err := readAll(z)
					if !equalFrames(got, tc.want) {
						t.Errorf("%s: got %s, want %s", how, show(got), show(tc.want))
					}
					if !errors.Is(err, wantErr) {
						t.Errorf("%s: got error %v, want %v", how, err, wantErr)
					}
					if _, _, err2 := z.Next(); err2 != err {
						t.Errorf("%s: Next after %v returned %v, want the same error", how, err, err2)
					}
					if p := z.Partial(); !errors.Is(err, framing.ErrMalformedCount) && p != tc.partial {
						t.Errorf("%s: Partial() = %d after %v, want %d", how, p, err, tc.partial)
					}
					if off := z.InputOffset(); err == io.EOF && off != int64(len(tc.in)) || off > int64(len(tc.in)) {
						t.Errorf("%s: InputOffset() = %d after %v, input is %d bytes", how, off, err, len(tc.in))
					}
				}
			}
		})
	}
}

func TestReaderMalformedError(t *testing.T) {
	z := framing.NewReader(strings.NewReader("5 <13>a05 abc"), 0)
	if _, _, err := z.Next(); err != nil {
		t.Fatal(err)
	}
	_, _, err := z.Next()
	if want := `syslog framing: offset 7: malformed octet count: zero, or a leading zero`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestReaderUnderlyingError(t *testing.T) {
	boom := errors.New("boom")
	z := framing.NewReader(io.MultiReader(strings.NewReader("<13>a\n<13>b"), iotest.ErrReader(boom)), 0)
	got, err := readAll(z)
	if !equalFrames(got, []frame{f("<13>a")}) || err != boom {
		t.Errorf("got %s, %v; want [<13>a], boom", show(got), err)
	}
}

func TestReaderNoProgress(t *testing.T) {
	z := framing.NewReader(emptyReader{}, 0)
	if _, _, err := z.Next(); err != io.ErrNoProgress {
		t.Errorf("got %v, want io.ErrNoProgress", err)
	}
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestReaderDefaultMaxSize(t *testing.T) {
	full := strings.Repeat("x", framing.DefaultMaxSize)
	in := full + "\n" + full + "y\n" + fmt.Sprintf("%d %sz", len(full)+1, full)
	z := framing.NewReader(strings.NewReader(in), 0)
	got, err := readAll(z)
	if want := []frame{f(full), tr(full), tr(full)}; !equalFrames(got, want) || err != io.EOF {
		t.Errorf("got %d frames (%v), want 3: full, truncated, truncated", len(got), err)
	}
}

func TestReaderLargeMaxSize(t *testing.T) {
	const size = 1 << 20
	big := strings.Repeat("b", size)
	in := fmt.Sprintf("%d %s", size, big) + big + "\n" + "<13>end"
	z := framing.NewReader(iotest.HalfReader(strings.NewReader(in)), size)
	got, err := readAll(z)
	if want := []frame{f(big), f(big), f("<13>end")}; !equalFrames(got, want) || err != io.EOF {
		t.Errorf("got %d frames (%v), want 3", len(got), err)
	}
}

func TestReaderReset(t *testing.T) {
	z := framing.NewReader(strings.NewReader("8 abcdefgh"), 4)
	if _, _, err := z.Next(); err != nil {
		t.Fatal(err)
	}
	z.Reset(strings.NewReader("<13>\n"))
	got, err := readAll(z)
	if !equalFrames(got, []frame{f("<13>")}) || err != io.EOF || z.InputOffset() != 5 {
		t.Errorf("after Reset: got %s, %v, offset %d", show(got), err, z.InputOffset())
	}
}

// TestReaderNoAllocs checks that reading frames does not allocate in the
// steady state, in both framings.
func TestReaderNoAllocs(t *testing.T) {
	for name, stream := range map[string][]byte{
		"octet":   octetStream(100, 250),
		"newline": newlineStream(100, 250),
	} {
		r := &loopReader{data: stream}
		z := framing.NewReader(r, 0)
		allocs := testing.AllocsPerRun(1000, func() {
			if _, _, err := z.Next(); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per frame, want 0", name, allocs)
		}
	}
}

// loopReader reads data over and over.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

func equalFrames(a, b []frame) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func show(fs []frame) string {
	var b strings.Builder
	b.WriteString("[")
	for i, fr := range fs {
		if i > 0 {
			b.WriteString(" ")
		}
		s := fr.msg
		if len(s) > 40 {
			s = fmt.Sprintf("%s…(%d B)", s[:40], len(fr.msg))
		}
		fmt.Fprintf(&b, "%q", s)
		if fr.truncated {
			b.WriteString("(truncated)")
		}
	}
	b.WriteString("]")
	return b.String()
}

// message250 returns a 250-byte RFC 5424 message numbered i.
func message250(i int) []byte {
	m := fmt.Appendf(nil, "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"%08d\"] ", i)
	return append(m, bytes.Repeat([]byte("x"), 250-len(m))...)
}

func octetStream(n, size int) []byte {
	var b []byte
	for i := range n {
		m := message250(i)[:size]
		b = fmt.Appendf(b, "%d ", len(m))
		b = append(b, m...)
	}
	return b
}

func newlineStream(n, size int) []byte {
	var b []byte
	for i := range n {
		b = append(b, message250(i)[:size]...)
		b = append(b, '\n')
	}
	return b
}

func BenchmarkReader(b *testing.B) {
	for _, bc := range []struct {
		name   string
		stream []byte
	}{
		{"octet", octetStream(4096, 250)},
		{"newline", newlineStream(4096, 250)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			br := bytes.NewReader(bc.stream)
			z := framing.NewReader(br, 0)
			b.SetBytes(250)
			b.ReportAllocs()
			for b.Loop() {
				msg, _, err := z.Next()
				if err == io.EOF {
					br.Reset(bc.stream)
					z.Reset(br)
					msg, _, err = z.Next()
				}
				if err != nil || len(msg) != 250 {
					b.Fatalf("got %d bytes, %v", len(msg), err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}

// Line gives a frame with its LF only when the frame is a plain line,
// written as it came; and consecutive plain lines can be joined.
func TestLine(t *testing.T) {
	in := "plain\n" + // 0: a line
		"203.0.113.9 x\n" + // 1: digits, then a line after all
		"crlf\r\n" + // 2: CR removed: not plain
		"nul\x00" + // 3: NUL trailer
		"5 octet" + // 4: octet counted
		"\n\nafter blank\n" + // 5: a line (the blank lines before it are skipped)
		strings.Repeat("x", 600) + "\n" + // 6: truncated
		"next\n" + // 7
		"last" // 8: no LF at the end of the stream
	want := []string{"plain\n", "203.0.113.9 x\n", "", "", "", "after blank\n", "", "next\n", ""}
	z := framing.NewReader(strings.NewReader(in), 500)
	z.Keep(0)
	var prev []byte
	for i, w := range want {
		msg, _, err := z.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		line := z.Line()
		if string(line) != w {
			t.Errorf("frame %d (%.20q): Line = %q, want %q", i, msg, line, w)
		}
		if line != nil && !bytes.Equal(line[:len(line)-1], msg) {
			t.Errorf("frame %d: Line %q is not the message %q and LF", i, line, msg)
		}
		if i == 1 { // frames 0 and 1 lie back to back: the first extends over both
			if cap(prev)-len(prev) < len(line) || &prev[:len(prev)+1][len(prev)] != &line[0] {
				t.Error("line 1 does not follow line 0 in the buffer")
			} else if both := prev[:len(prev)+len(line)]; string(both) != "plain\n203.0.113.9 x\n" {
				t.Errorf("lines 0 and 1 joined: %q", both)
			}
		}
		prev = line
	}
	if _, _, err := z.Next(); err != io.EOF || z.Line() != nil {
		t.Errorf("at the end: %v, Line %q", err, z.Line())
	}
}

// MoreLines takes the plain lines after a plain line, and stops before
// each frame that is not one (or might not be), which Next then returns.
func TestMoreLines(t *testing.T) {
	in := "a\nb\nc\n" + // 0-2: a run of three
		"crlf\r\n" + // CR: Next's
		"d\n" + "e\n" + // a run of two
		"nul\x00" + // NUL trailer: Next's
		"f\n" + "g has a nul\x00 in it\n" + // f alone: the NUL ends a frame, Next's
		"h\n" + "\n" + "i\n" + // a blank line stops the run
		"j\n" + "203.0.113.9 digits\n" + // digits may start an octet count: Next's
		"k\n" + strings.Repeat("x", 501) + "\n" + // over the limit: Next's, truncated
		"l\n" + "m\n" + "no LF at the end" // incomplete until the end: Next's
	want := [][]string{
		{"a", "b", "c"}, {"crlf"}, {"d", "e"}, {"nul"}, {"f"}, {"g has a nul"}, {" in it", "h"}, {"i", "j"},
		{"203.0.113.9 digits", "k"}, {strings.Repeat("x", 500)}, {"l", "m"}, {"no LF at the end"},
	}
	z := framing.NewReader(strings.NewReader(in), 500)
	for i, w := range want {
		msg, _, err := z.Next()
		if err != nil {
			t.Fatalf("group %d: %v", i, err)
		}
		got := []string{string(msg)}
		if z.Line() != nil {
			more, ends := z.MoreLines(nil, 0)
			start := 0
			for _, end := range ends {
				got = append(got, string(more[start:end-1]))
				start = end
			}
		}
		if !slices.Equal(got, w) {
			t.Errorf("group %d: %q, want %q", i, got, w)
		}
	}
	if _, _, err := z.Next(); err != io.EOF {
		t.Errorf("at the end: %v", err)
	}
}

// A Reader that keeps frames in buffers from KeepFrom's get never reads a
// buffer it has left once it calls BeforeRead: a caller may reuse it from
// then on. Here every buffer left is scribbled over at each BeforeRead,
// and every frame still comes out whole.
func TestKeepFromLetsGoOfBuffers(t *testing.T) {
	var in strings.Builder
	var want []string
	for i := 0; in.Len() < 1<<20; i++ {
		s := fmt.Sprintf("frame %d %s", i, strings.Repeat("y", i%700))
		want = append(want, s)
		in.WriteString(s + "\n")
	}
	var bufs [][]byte
	gets := 0
	z := framing.NewReader(iotest.HalfReader(strings.NewReader(in.String())), 1000)
	z.KeepFrom(0, func(n int) []byte {
		gets++
		bufs = append(bufs, make([]byte, n))
		return bufs[len(bufs)-1]
	})
	z.BeforeRead(func() {
		for _, b := range bufs[:len(bufs)-1] { // all but the one being read into
			for i := range b {
				b[i] = '#'
			}
		}
	})
	for i, w := range want {
		msg, _, err := z.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if string(msg) != w { // read before the next BeforeRead: still whole
			t.Fatalf("frame %d = %.30q, want %.30q", i, msg, w)
		}
	}
	if gets < 4 {
		t.Errorf("%d buffers for 1 MiB", gets)
	}
}
