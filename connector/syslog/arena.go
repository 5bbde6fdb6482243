package syslog

import "unsafe"

// arena hands out copies of messages from large shared blocks, so that a
// message costs no allocation of its own. A block lives as long as any
// event that points into it. Not safe for concurrent use: each reading
// goroutine has its own.
type arena struct {
	block []byte
}

const arenaBlock = 256 << 10

// streamBlock is the size of the buffers a stream connection reads into.
// A buffer lives until no event points into it, so the smaller they are,
// the less input the events still queued keep alive; but every byte read
// is allocated, and the smaller the live heap, the more often the
// collector runs. Measured on the benchmark's syslog → file cases against
// 72 KiB (the least the default maxMessageBytes allows) and 256 KiB: 72
// KiB cost about 15% more CPU per passthrough line, 256 KiB about 4 MiB
// more peak RSS, and 128 KiB neither.
const streamBlock = 128 << 10

// copy returns a copy of b that no one will write to again.
func (a *arena) copy(b []byte) []byte {
	if len(b) > arenaBlock/4 {
		return append([]byte(nil), b...)
	}
	if cap(a.block)-len(a.block) < len(b) {
		a.block = make([]byte, 0, arenaBlock)
	}
	n := len(a.block)
	a.block = append(a.block, b...)
	return a.block[n:len(a.block):len(a.block)]
}

// str returns b as a string without copying. b must be memory that is
// never written again: an arena's, or a frame a framing.Reader keeps.
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
