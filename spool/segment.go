package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path/filepath"
	"strconv"
	"strings"
)

// On disk, a spool directory holds segment files named by a 20-digit
// decimal id, "00000000000000000001.seg", written in increasing id order,
// and the position file "position.json". A segment is a sequence of frames
// and nothing else:
//
//	offset  size  field
//	0       4     length of the payload, little-endian uint32
//	4       4     CRC-32C (Castagnoli) of bytes 8..24 and the payload
//	8       8     sequence number, little-endian uint64: 1, 2, 3, ... over
//	              the life of the spool, across segments and restarts
//	16      8     write time, Unix nanoseconds, little-endian int64
//	24      len   payload
//
// The sequence number lets recovery count exactly how many records a
// damaged region or a missing segment held: the gap between the valid
// records on either side.
const (
	headerSize      = 24
	maxSegmentBytes = 1 << 31
	segmentExt      = ".seg"
	positionFile    = "position.json"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func segmentName(id uint64) string { return fmt.Sprintf("%020d%s", id, segmentExt) }

func segmentPath(dir string, id uint64) string { return filepath.Join(dir, segmentName(id)) }

// parseSegmentName returns the id of a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	s, ok := strings.CutSuffix(name, segmentExt)
	if !ok || len(s) != 20 {
		return 0, false
	}
	id, err := strconv.ParseUint(s, 10, 64)
	return id, err == nil && id > 0
}

// appendFrame appends the frame of payload to b.
func appendFrame(b []byte, seq uint64, at int64, payload []byte) []byte {
	start := len(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint64(b, seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(at))
	b = append(b, payload...)
	crc := crc32.Update(0, castagnoli, b[start+8:])
	binary.LittleEndian.PutUint32(b[start+4:], crc)
	return b
}

// frame is a decoded record; payload aliases the scanner's buffer.
type frame struct {
	off     int64 // where the frame starts
	next    int64 // where the next frame starts
	seq     uint64
	at      int64
	payload []byte
}

// status of the bytes at an offset.
type status int

const (
	frameOK    status = iota
	frameEnd          // no bytes left
	frameShort        // a frame starts but the bytes end before it does
	frameBad          // impossible length or checksum mismatch
)

// scanner reads the frames of one segment through a read-ahead buffer.
type scanner struct {
	r      io.ReaderAt
	buf    []byte
	bufOff int64
}

const readAhead = 256 << 10

// maxPayload bounds a valid payload. It does not depend on
// Config.SegmentBytes, so that a frame reads the same under any
// configuration: records written before SegmentBytes was lowered stay
// valid, and Inspect, which knows no configuration, reads as Recv does.
const maxPayload = maxSegmentBytes - headerSize

func newScanner(r io.ReaderAt) *scanner {
	return &scanner{r: r, buf: make([]byte, 0, readAhead)}
}

// bytes returns the n bytes at off, which must end at or before end; the
// slice is valid until the next call.
func (s *scanner) bytes(off int64, n int, end int64) ([]byte, error) {
	if off >= s.bufOff && off+int64(n) <= s.bufOff+int64(len(s.buf)) {
		i := off - s.bufOff
		return s.buf[i : i+int64(n)], nil
	}
	want := max(int64(n), min(readAhead, end-off))
	if int64(cap(s.buf)) < want {
		s.buf = make([]byte, want)
	}
	s.buf = s.buf[:want]
	k, err := s.r.ReadAt(s.buf, off)
	s.buf, s.bufOff = s.buf[:k], off
	if k < n {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return s.buf[:n], nil
}

// reset drops the read-ahead buffer, after the file grew or changed.
func (s *scanner) reset() { s.buf = s.buf[:0] }

// frameAt decodes the frame at off, using no byte at or past end.
// lastSeq, if not 0, is the sequence number of the previous valid record:
// a frame whose number is not above it is bad. An I/O error is returned as
// is, with status frameBad.
func (s *scanner) frameAt(off, end int64, lastSeq uint64) (frame, status, error) {
	if off >= end {
		return frame{}, frameEnd, nil
	}
	if end-off < headerSize {
		return frame{}, frameShort, nil
	}
	h, err := s.bytes(off, headerSize, end)
	if err != nil {
		return frame{}, frameBad, err
	}
	n := int64(binary.LittleEndian.Uint32(h))
	crc := binary.LittleEndian.Uint32(h[4:])
	seq := binary.LittleEndian.Uint64(h[8:])
	at := int64(binary.LittleEndian.Uint64(h[16:]))
	if n > maxPayload || seq == 0 || seq >= maxSeq || (lastSeq != 0 && seq <= lastSeq) {
		return frame{}, frameBad, nil
	}
	if off+headerSize+n > end {
		return frame{}, frameShort, nil
	}
	b, err := s.bytes(off, headerSize+int(n), end)
	if err != nil {
		return frame{}, frameBad, err
	}
	if crc32.Update(0, castagnoli, b[8:]) != crc {
		return frame{}, frameBad, nil
	}
	return frame{off: off, next: off + headerSize + n, seq: seq, at: at, payload: b[headerSize:]}, frameOK, nil
}

// maxSeq bounds valid sequence numbers (2^48: a million records a second
// for nine years), so that random bytes rarely pass for a header.
const maxSeq = 1 << 48

// resync returns the first valid frame after off and before end, or
// status frameEnd if there is none. A candidate's sequence number must be
// above lastSeq and, when lastSeq is known, within 2^32 of it, so that
// random bytes are rarely checksummed; and resync checksums at most four
// times end bytes in all, so that it is linear in the segment's size on any
// input: past that budget the rest of the segment counts as damaged.
func (s *scanner) resync(off, end int64, lastSeq uint64) (frame, status, error) {
	budget := 4 * end
	for o := off + 1; o+headerSize <= end && budget > 0; o++ {
		h, err := s.bytes(o, headerSize, end)
		if err != nil {
			return frame{}, frameBad, err
		}
		n := int64(binary.LittleEndian.Uint32(h))
		seq := binary.LittleEndian.Uint64(h[8:])
		if n > maxPayload || o+headerSize+n > end || seq == 0 || seq >= maxSeq {
			continue
		}
		if lastSeq != 0 && (seq <= lastSeq || seq-lastSeq > 1<<32) {
			continue
		}
		budget -= n
		if f, st, err := s.frameAt(o, end, lastSeq); err != nil || st == frameOK {
			return f, st, err
		}
	}
	return frame{}, frameEnd, nil
}

// skip returns where the damaged region at off ends: at the next valid
// frame before end (see resync), or at end.
func (s *scanner) skip(off, end int64, lastSeq uint64) (int64, error) {
	f, st, err := s.resync(off, end, lastSeq)
	if err != nil {
		return 0, err
	}
	if st == frameOK {
		return f.off, nil
	}
	return end, nil
}
