// Package framing splits a syslog byte stream (TCP, TLS, unix stream
// sockets) into messages, as RFC 6587 describes.
//
// Two framings exist and senders do not announce which one they use, so
// [Reader] decides for each frame from its first byte:
//
//   - a digit starts an octet-counted frame, "LEN SP MSG" (RFC 6587 section
//     3.4.1; LEN has no leading zero), unless the digits are followed by
//     something other than SP (an IP address, a date), or are too many for
//     a count: then the frame is a line like any other;
//   - anything else starts a non-transparent frame, which ends at the next
//     LF (section 3.4.2). NUL is accepted as a trailer too, and a CR before
//     the trailer is removed, so CRLF works.
//
// Empty frames (blank lines, or a trailer left after an octet-counted
// frame) are skipped.
package framing

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// DefaultMaxSize is the frame size limit used when NewReader is given none.
const DefaultMaxSize = 64 << 10

// MaxOctetCount is the largest octet count accepted when maxSize is
// smaller: a larger LEN is taken as a sign that the stream is not syslog,
// or has lost its framing, rather than as a frame to discard.
const MaxOctetCount = 64 << 20

// ErrMalformedCount is wrapped by the error [Reader.Next] returns when an
// octet count is malformed. The stream cannot be resynchronised after it;
// the caller should close the connection.
var ErrMalformedCount = errors.New("malformed octet count")

var errInvalidRead = errors.New("syslog framing: reader returned an invalid count")

const (
	minBufSize = 64 << 10
	// headroom is room in the buffer beyond maxSize: for the octet count
	// and its SP, or for the CR and LF after a maximal line.
	headroom = 64
	// maxEmptyReads is how many reads in a row may return nothing before
	// Next gives up with io.ErrNoProgress, as bufio does.
	maxEmptyReads = 100
)

// Reader reads syslog frames from a byte stream. It is not safe for
// concurrent use.
type Reader struct {
	rd      io.Reader
	maxSize int
	// maxCount is the largest octet count accepted, and maxDigits its
	// number of digits.
	maxCount, maxDigits int

	buf        []byte
	start, end int                // unread bytes are buf[start:end]
	keep       int                // see Keep: the size of a new buffer, or 0
	get        func(n int) []byte // see KeepFrom; nil: make
	beforeRead func()             // see BeforeRead
	bufOff     int64              // stream offset of buf[0]
	err        error              // sticky error from rd, returned once buf is drained

	// Left over from an oversized frame, to discard before the next one:
	// skip bytes of an octet-counted frame, or the rest of a line.
	skip     int
	skipLine bool
	// fail is the sticky error of a malformed stream.
	fail error
	// plain is buf[plainStart:plainEnd], the last frame with its LF, when
	// it was a plain line (see Line); plainEnd is 0 otherwise.
	plainStart, plainEnd int
	// What MoreLines knows of the NULs in buf, while nulEnd > 0: it
	// searched from an earlier start up to nulEnd, and found the first
	// NUL at nul, or none (-1). Bytes are never moved in buf while it
	// knows (fill forgets when they are).
	nul, nulEnd int
}

// NewReader returns a Reader that reads frames from r, each at most maxSize
// bytes long ([DefaultMaxSize] if maxSize <= 0). It does not read from r
// until Next is called, and allocates its buffer (64 KiB, or maxSize plus a
// little if that is larger) on first use.
func NewReader(r io.Reader, maxSize int) *Reader {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	z := &Reader{maxSize: maxSize, maxCount: max(maxSize, MaxOctetCount)}
	z.maxDigits = len(strconv.Itoa(z.maxCount))
	z.Reset(r)
	return z
}

// Reset discards any buffered data and state, and makes z read from r,
// keeping its buffer and size limit.
func (z *Reader) Reset(r io.Reader) {
	buf := z.buf
	if z.keep > 0 {
		buf = nil // frames returned may still point into it
	}
	*z = Reader{rd: r, maxSize: z.maxSize, maxCount: z.maxCount, maxDigits: z.maxDigits, buf: buf, keep: z.keep, get: z.get}
}

// keepMinRead is the least room a Reader that keeps frames reads into:
// with less left in its buffer, it starts a new one.
const keepMinRead = 8 << 10

// Keep makes the frames Next returns stay valid for good: z never writes
// over a byte it has returned. It reads into buffers of size bytes (at
// least what the size limit needs), and when one is full it goes on in a
// new one, copying only the incomplete frame at its end; a buffer is freed
// by the garbage collector once no frame points into it. A caller that
// keeps frames, as a source keeps messages, then needs no copy of its own.
// Call it before the first Next.
func (z *Reader) Keep(size int) { z.keep = max(size, minBufSize, z.maxSize+headroom+keepMinRead) }

// KeepFrom is Keep with buffers that get gives: get(n) returns a buffer
// of n bytes or more that nothing else uses, which z reads into until it
// is full, then calls get again. z reads the buffer it has left, to copy
// the incomplete frame at its end, before it calls the BeforeRead function
// next, and never after: from then on the buffer is the caller's again,
// to reuse once no frame of it is needed. Call it before the first Next.
func (z *Reader) KeepFrom(size int, get func(n int) []byte) {
	z.Keep(size)
	z.get = get
}

// newBuf returns a new buffer of n bytes.
func (z *Reader) newBuf(n int) []byte {
	if z.get != nil {
		return z.get(n)[:n]
	}
	return make([]byte, n)
}

// InputOffset returns the number of bytes of the stream consumed so far:
// up to the end of the last frame Next returned, with its trailer and the
// empty frames before it. The discarded rest of a truncated frame counts
// once the next call to Next has skipped it.
func (z *Reader) InputOffset() int64 { return z.bufOff + int64(z.start) }

// Partial returns how many bytes of a frame that Next has not returned,
// and will not return, are buffered: after an error from Next, the bytes
// of the frame the stream cut short (its octet count included), which the
// caller should count as lost. It is 0 when the stream ended between
// frames, or in the discarded rest of a truncated frame (which Next
// returned).
func (z *Reader) Partial() int { return z.end - z.start }

// BeforeRead sets a function that Next calls before each read from the
// underlying reader, that is, whenever Next may block: a caller that
// batches frames hands its batch on there, so nothing waits for more
// input. Frames returned earlier are no longer valid when it is called,
// unless z keeps them (see Keep).
func (z *Reader) BeforeRead(f func()) { z.beforeRead = f }

// Next returns the next frame's message, without its octet count or
// trailer.
//
// The returned slice points into z's buffer: it is valid only until the
// next call to Next or Reset (for good if z keeps frames, see Keep), and
// Next does not allocate for it. truncated
// reports that the frame was longer than the size limit and msg is its
// first maxSize bytes; the rest of the frame is read and discarded, never
// taken as a new frame.
//
// At the end of the stream Next returns io.EOF. A final non-transparent
// frame with no LF before the end of the stream is returned as a frame
// (a sender that closes the connection means the message to be complete).
// If the stream ends inside an octet-counted frame, or inside its octet
// count, Next returns io.ErrUnexpectedEOF. A malformed octet count gives an
// error wrapping [ErrMalformedCount] and the stream offset; other errors
// come from the underlying reader, unwrapped. Once Next has returned an
// error, it returns the same error again.
func (z *Reader) Next() (msg []byte, truncated bool, err error) {
	z.plainEnd = 0
	if z.fail != nil {
		return nil, false, z.fail
	}
	if z.buf == nil {
		z.buf = z.newBuf(max(minBufSize, z.maxSize+headroom, z.keep))
	}
	if err := z.discard(); err != nil {
		return nil, false, z.setFail(err)
	}
	for {
		if z.start == z.end {
			if err := z.fill(); err != nil {
				return nil, false, z.setFail(err)
			}
			continue
		}
		c := z.buf[z.start]
		if c == '\n' || c == 0 {
			z.start++ // an empty frame, or a trailer after an octet-counted one
			continue
		}
		if isDigit(c) {
			msg, truncated, err = z.octetCounted()
		} else {
			msg, truncated, err = z.line()
		}
		if err != nil {
			return nil, false, z.setFail(err)
		}
		if msg != nil {
			return msg, truncated, nil
		}
	}
}

// Line returns the frame the last call to Next returned with the LF
// that ended it, if that frame was a plain line: its message followed
// at once by LF in the stream, whole (not truncated), with no octet
// count, CR or NUL trailer. Otherwise, or after an error, it returns nil.
// So a plain line's bytes are the frame as a raw-format writer writes it:
// its message and a newline.
//
// The slice points into z's buffer, like the message, and is valid as
// long as it is. Its capacity runs to the end of the buffer, so that a
// caller may join consecutive lines that lie back to back in it by
// extending a slice over them (never writing to it): line b follows a
// if cap(a) > len(a) and &a[:len(a)+1][len(a)] == &b[0].
func (z *Reader) Line() []byte {
	if z.plainEnd == 0 {
		return nil
	}
	return z.buf[z.plainStart:z.plainEnd]
}

// MoreLines takes at once the plain lines (see Line) that lie whole in
// the buffer after the last frame Next returned: the frames Next would
// return one by one, for as long as each is a plain line. It stops
// before a frame that is not one, or might not be (an empty frame, one
// that starts with a digit, a NUL, a CR before the LF, one longer than
// the size limit), and before an incomplete one, which Next then
// handles. It never reads, so it never blocks nor calls the BeforeRead
// function. It returns the lines, each with its LF, back to back (after
// a plain line, they follow Line's slice in the buffer), with ends
// extended by base plus where each line ends in them. The slice is valid
// as Line's is, and its capacity runs to the end of the buffer. Line
// returns nil after it.
//
// A caller that hands on whole runs of lines calls it after each plain
// line: one search for LF per line, and each byte searched for NUL once,
// instead of a call of Next and two searches per line.
func (z *Reader) MoreLines(ends []int, base int) ([]byte, []int) {
	z.plainEnd = 0
	from, p := z.start, z.start
	if z.fail != nil || z.skip > 0 || z.skipLine || p == z.end || z.buf[p] == '\n' || isDigit(z.buf[p]) {
		return z.buf[from:p], ends
	}
	b := z.buf[:z.end]
	stop := z.nulAfter(p) // no line reaches past the first NUL
	for p < stop {
		if c := b[p]; c == '\n' || isDigit(c) {
			break
		}
		k := bytes.IndexByte(b[p:stop], '\n')
		if k < 0 || k > z.maxSize || b[p+k-1] == '\r' {
			break
		}
		p += k + 1
		ends = append(ends, base+p-from)
	}
	z.start = p
	return z.buf[from:p], ends
}

// nulAfter returns where the first NUL at or after p is in buf[:end], or
// end: it searches only the bytes it has not searched before.
func (z *Reader) nulAfter(p int) int {
	switch {
	case z.nulEnd > 0 && z.nul >= p: // found, ahead
		return z.nul
	case z.nulEnd > 0 && z.nul < 0 && z.nulEnd > p: // none up to nulEnd
	default: // nothing known beyond p
		z.nulEnd = p
	}
	z.nul = -1
	if k := bytes.IndexByte(z.buf[z.nulEnd:z.end], 0); k >= 0 {
		z.nul = z.nulEnd + k
	}
	z.nulEnd = z.end
	if z.nul < 0 {
		return z.end
	}
	return z.nul
}

// setFail records err as sticky and returns it.
func (z *Reader) setFail(err error) error {
	z.fail = err
	return err
}

// fill reads more data into the buffer, first moving the unread bytes to
// its start. It returns the underlying reader's error once no byte is
// buffered.
func (z *Reader) fill() error {
	switch {
	case z.keep > 0 && len(z.buf)-z.end < keepMinRead:
		z.nulEnd = 0 // a new buffer
		// The bytes before start were returned: leave them be.
		buf := z.newBuf(z.keep)
		z.end = copy(buf, z.buf[z.start:z.end])
		z.buf = buf
		z.bufOff += int64(z.start)
		z.start = 0
	case z.keep > 0:
	case z.start > 0:
		z.nulEnd = 0 // the bytes move
		copy(z.buf, z.buf[z.start:z.end])
		z.bufOff += int64(z.start)
		z.end -= z.start
		z.start = 0
	}
	for range maxEmptyReads {
		if z.err != nil {
			return z.err
		}
		if z.end == len(z.buf) {
			return nil // full: the caller has enough to act on
		}
		if z.beforeRead != nil {
			z.beforeRead()
		}
		n, err := z.rd.Read(z.buf[z.end:])
		if n < 0 || n > len(z.buf)-z.end {
			return errInvalidRead
		}
		z.end += n
		z.err = err
		if n > 0 {
			return nil
		}
	}
	return io.ErrNoProgress
}

// eof turns io.EOF into io.ErrUnexpectedEOF, for a stream that ends inside
// a frame.
func eof(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// discard drops what is left of an oversized frame.
func (z *Reader) discard() error {
	for z.skip > 0 {
		if z.start == z.end {
			if err := z.fill(); err != nil {
				return eof(err)
			}
		}
		n := min(z.skip, z.end-z.start)
		z.start += n
		z.skip -= n
	}
	for z.skipLine {
		if z.start == z.end {
			if err := z.fill(); err != nil {
				return err // the truncated frame has been returned: EOF is fine
			}
		}
		if k := trailer(z.buf[z.start:z.end]); k >= 0 {
			z.start += k + 1
			z.skipLine = false
		} else {
			z.start = z.end
		}
	}
	return nil
}

// octetCounted reads the octet-counted frame that starts at buf[start].
func (z *Reader) octetCounted() ([]byte, bool, error) {
	// The count and its SP.
	i, count := z.start, 0
	for {
		if i == z.end {
			n := i - z.start
			if err := z.fill(); err != nil {
				return nil, false, eof(err)
			}
			i = z.start + n
			continue
		}
		c := z.buf[i]
		if c == ' ' {
			break
		}
		if !isDigit(c) || i-z.start == z.maxDigits {
			// Not an octet count after all ("203.0.113.9 - - [...]", a
			// date): a plain line that starts with digits.
			return z.line()
		}
		count = count*10 + int(c-'0')
		i++
	}
	switch {
	case z.buf[z.start] == '0':
		return nil, false, z.malformed(z.start, "zero, or a leading zero")
	case count > z.maxCount:
		return nil, false, z.malformed(z.start, "count "+strconv.Itoa(count)+" over the limit of "+strconv.Itoa(z.maxCount))
	}
	hdr := i + 1 - z.start

	n, truncated := count, false
	if count > z.maxSize {
		n, truncated = z.maxSize, true
	}
	for z.end-z.start < hdr+n {
		if err := z.fill(); err != nil {
			return nil, false, eof(err)
		}
	}
	msg := z.buf[z.start+hdr : z.start+hdr+n : z.start+hdr+n]
	z.start += hdr + n
	z.skip = count - n
	return msg, truncated, nil
}

// malformed returns the error for a malformed octet count at buf[i].
func (z *Reader) malformed(i int, detail string) error {
	return fmt.Errorf("syslog framing: offset %d: %w: %s", z.bufOff+int64(i), ErrMalformedCount, detail)
}

// line reads the non-transparent frame that starts at buf[start]. It
// returns nil, and no error, for an empty frame.
func (z *Reader) line() ([]byte, bool, error) {
	scanned := 0 // bytes after start known not to hold a trailer
	for {
		if end := z.trailerAt(z.start + scanned); end >= 0 {
			msg, truncated := z.frame(z.start, end)
			if !truncated && len(msg) > 0 && len(msg) == end-z.start && z.buf[end] == '\n' {
				z.plainStart, z.plainEnd = z.start, end+1
			}
			z.start = end + 1
			return msg, truncated, nil
		}
		scanned = z.end - z.start
		if scanned > z.maxSize+1 { // even without a CR it is too long
			msg := z.buf[z.start : z.start+z.maxSize : z.start+z.maxSize]
			z.start += z.maxSize
			z.skipLine = true
			return msg, true, nil
		}
		if err := z.fill(); err != nil {
			if err != io.EOF || z.start == z.end {
				return nil, false, err
			}
			// The last frame, without a trailer.
			msg, truncated := z.frame(z.start, z.end)
			z.start = z.end
			return msg, truncated, nil
		}
	}
}

// frame returns buf[start:end] without a trailing CR, cut to maxSize; nil
// if that is empty.
func (z *Reader) frame(start, end int) ([]byte, bool) {
	if end > start && z.buf[end-1] == '\r' {
		end--
	}
	truncated := end-start > z.maxSize
	if truncated {
		end = start + z.maxSize
	}
	if end == start {
		return nil, false
	}
	return z.buf[start:end:end], truncated
}

// trailerAt returns the index of the first LF or NUL in buf[p:end], or
// -1. It finds NULs with nulAfter, so each byte is searched for NUL
// once, not once per frame; while no NUL is known up to end, it does
// not call it.
func (z *Reader) trailerAt(p int) int {
	stop := z.end
	if z.nulEnd != z.end || z.nul >= 0 || z.nulEnd <= p {
		stop = z.nulAfter(p)
	}
	if k := bytes.IndexByte(z.buf[p:stop], '\n'); k >= 0 {
		return p + k
	}
	if stop < z.end {
		return stop
	}
	return -1
}

// trailer returns the index of the first LF or NUL in b, or -1.
func trailer(b []byte) int {
	k := bytes.IndexByte(b, '\n')
	if k < 0 {
		k = len(b)
	}
	if j := bytes.IndexByte(b[:k], 0); j >= 0 {
		return j
	}
	if k == len(b) {
		return -1
	}
	return k
}

func isDigit(c byte) bool { return c-'0' < 10 }
