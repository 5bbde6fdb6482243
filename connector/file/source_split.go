package file

import (
	"bytes"

	"github.com/sluicehq/sluice/event"
)

// splitter cuts a byte stream into lines of at most max bytes. It keeps the
// incomplete last line until its newline arrives.
type splitter struct {
	max  int
	pend []byte // the incomplete line so far
	off  int64  // file offset of pend[0], or of the next byte if pend is empty
}

// write processes data, the bytes that follow what was written before,
// and calls emit for each complete line (without its newline) and for each
// max-byte piece of a longer line (flagged event.Split). off is where the
// line or piece starts in the file and end where the next one starts. line
// is valid only during the call.
func (sp *splitter) write(data []byte, emit func(line []byte, off, end int64, flags event.Flags)) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if len(sp.pend)+len(data) <= sp.max {
				sp.pend = append(sp.pend, data...)
				return
			}
		} else if len(sp.pend)+i <= sp.max {
			line := data[:i]
			if len(sp.pend) > 0 {
				sp.pend = append(sp.pend, line...)
				line = sp.pend
			}
			end := sp.off + int64(len(line)) + 1
			emit(line, sp.off, end, 0)
			sp.off, sp.pend, data = end, sp.pend[:0], data[i+1:]
			continue
		}
		// More than max bytes without a newline: emit max of them.
		room := sp.max - len(sp.pend)
		sp.pend = append(sp.pend, data[:room]...)
		data = data[room:]
		end := sp.off + int64(len(sp.pend))
		emit(sp.pend, sp.off, end, event.Split)
		sp.off, sp.pend = end, sp.pend[:0]
	}
}

// flush emits the incomplete last line, if any, as a line.
func (sp *splitter) flush(emit func(line []byte, off, end int64, flags event.Flags)) {
	if len(sp.pend) == 0 {
		return
	}
	end := sp.off + int64(len(sp.pend))
	emit(sp.pend, sp.off, end, 0)
	sp.off, sp.pend = end, sp.pend[:0]
}

// reset restarts the splitter at offset off, dropping what it holds.
func (sp *splitter) reset(off int64) {
	sp.off, sp.pend = off, sp.pend[:0]
}
