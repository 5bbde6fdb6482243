package syslog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/syslog/framing"
	"github.com/sluicehq/sluice/event"
)

// queueRuns is how many runs of lines wait between the reading
// goroutines and RecvLines. A run holds at most one read's frames (up to
// a framing buffer, 256 KiB), so they hold at most about 2 MiB, as the
// frame queue does.
const queueRuns = 8

// maxOwnRun is the size at which a run of copied lines is queued before
// the read's end.
const maxOwnRun = arenaBlock

// run is what a reading goroutine queues in lines mode: the frames of one
// read, as an [event.Lines] holds them.
type run struct {
	bytes []byte
	ends  []int
	host  string
	at    time.Time
	flags event.Flags
	block *block // the framing buffer bytes is a view of; nil for a copy
}

// freeBlocks is how many framing buffers the source keeps for reuse, for
// all its connections: as many as the runs queued and a few more, 3 MiB.
const freeBlocks = queueRuns + 4

// block is a framing buffer of a connection in lines mode. Its framing
// reader and each run that is a view of it hold a reference; when the
// last lets go, it goes back to the source's free list, so that busy
// connections read into the same few buffers (no garbage).
type block struct {
	b    []byte
	refs atomic.Int32
	free *blocks
}

func (k *block) release() {
	if k != nil && k.refs.Add(-1) == 0 {
		k.free.put(k)
	}
}

// blocks is a source's free list of framing buffers, at most freeBlocks,
// and of the slices that hold where a run's lines end, as many. Its
// methods are safe for concurrent use.
type blocks struct {
	mu   sync.Mutex
	free []*block
	ends [][]int
}

// getEnds returns an empty slice for a run's line ends: one let go, or
// a new one.
func (p *blocks) getEnds() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.ends)
	if n == 0 {
		return make([]int, 0, 1024)
	}
	e := p.ends[n-1]
	p.ends[n-1] = nil
	p.ends = p.ends[:n-1]
	return e[:0]
}

// putEnds keeps e, the line ends of a run no one uses any more, for reuse.
func (p *blocks) putEnds(e []int) {
	if cap(e) < 1024 { // a truncated frame's run of one
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ends) < freeBlocks {
		p.ends = append(p.ends, e)
	}
}

// get returns the buffer put last, or nil if there is none.
func (p *blocks) get() *block {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.free)
	if n == 0 {
		return nil
	}
	k := p.free[n-1]
	p.free[n-1] = nil
	p.free = p.free[:n-1]
	return k
}

// put keeps k for reuse; if the list is full, the garbage collector
// takes it.
func (p *blocks) put(k *block) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < freeBlocks {
		p.free = append(p.free, k)
	}
}

// UseLines switches the source to hand its events over as runs of lines
// ([event.Lines]; see the daemon's LineSource) if it can, and reports
// whether it did. It can when it parses nothing (format "none") and
// reads only streams (TCP, TLS, unix), whose reads hold many lines. Once
// switched, the source hands events over only through RecvLines: Recv and
// RecvBatch see none. Call it before Run.
func (s *Source) UseLines() bool {
	if s.cfg.Format != "none" {
		return false
	}
	for network := range strings.SplitSeq(s.cfg.Network, "+") {
		if network == "udp" || network == "unixgram" {
			return false
		}
	}
	if s.runs == nil {
		s.runs, s.free = make(chan run, queueRuns), &blocks{free: make([]*block, 0, freeBlocks)}
	}
	return true
}

// RecvLines sets *l to the next run of received lines: the frames one
// read completed, each with the newline a raw writer puts after it, all
// received from one sender at one moment (Template's Host and
// ReceivedAt). A frame that was truncated is a run of its own, with the
// flag Truncated. The ack does nothing. After Run has returned, it
// returns what is left, then io.EOF. The run is lent: its memory is valid
// until the next call, which may reuse it. RecvLines is not safe for
// concurrent use; it is for a source switched by UseLines.
func (s *Source) RecvLines(ctx context.Context, l *event.Lines) (func(), error) {
	s.lent.release()
	if s.free != nil {
		s.free.putEnds(s.lentEnds)
	}
	s.lent, s.lentEnds = nil, nil
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("syslog: %w", err)
	}
	if s.runs == nil {
		return nil, errors.New("syslog: RecvLines without UseLines")
	}
	var r run
	var ok bool
	select {
	case r, ok = <-s.runs:
	case <-ctx.Done():
		return nil, fmt.Errorf("syslog: %w", ctx.Err())
	}
	if !ok {
		return nil, io.EOF
	}
	l.Template = event.Event{ReceivedAt: r.at, Source: s.name, SourceType: "syslog", Host: r.host,
		ContentType: s.cfg.ContentType, Flags: r.flags}
	l.Bytes, l.Ends = r.bytes, r.ends
	s.lent, s.lentEnds = r.block, r.ends
	return sluice.Noop, nil
}

// closeRuns ends RecvLines' input, once every reading goroutine has
// returned.
func (s *Source) closeRuns() {
	if s.runs != nil {
		close(s.runs)
	}
}

// collector is what a stream's reading goroutine hands frames to:
// pending, or lines in lines mode.
type collector interface {
	// next takes the frame Next returned, which completed a read at now;
	// it returns false when ctx is done.
	next(ctx context.Context, fr *framing.Reader, msg []byte, host string, truncated bool, now time.Time) bool
	// flush queues what was collected; it returns false when ctx is done.
	flush(ctx context.Context) bool
}

// next is add for a frame a framing.Reader keeps.
func (p *pending) next(ctx context.Context, _ *framing.Reader, msg []byte, host string, truncated bool, now time.Time) bool {
	return p.add(ctx, nil, msg, host, truncated, now)
}

// lines collects the frames of one read as a run. While they are plain
// lines back to back in the framing buffer, which keeps frames, the run
// is a view of the buffer: no byte is copied. From the first frame that
// is not (a CR or NUL trailer, an octet count, a blank line before it),
// the run is a copy, each frame followed by '\n'.
type lines struct {
	s   *Source
	cur run
	own bool // cur.bytes is a copy, appended to; else a view, never written
	// held is the block the framing reader reads into, left the one it
	// read into before, which it may still copy from until its next read.
	held, left *block
}

// get gives the framing reader a buffer of n bytes: a free one, or a new one.
func (p *lines) get(n int) []byte {
	k := p.s.free.get()
	if k == nil || len(k.b) < n {
		k = &block{b: make([]byte, n), free: p.s.free}
	}
	k.refs.Store(1) // the framing reader's
	p.left, p.held = p.held, k
	return k.b
}

// reading is called before each read: the framing reader lets go of the
// buffer it left.
func (p *lines) reading() {
	p.left.release()
	p.left = nil
}

func (p *lines) next(ctx context.Context, fr *framing.Reader, msg []byte, host string, truncated bool, now time.Time) bool {
	if truncated {
		p.s.count.Error("oversized")
		if !p.flush(ctx) {
			return false
		}
		p.cur = run{bytes: append(append(make([]byte, 0, len(msg)+1), msg...), '\n'), host: host, at: now, flags: event.Truncated}
		p.own = true
		p.cur.ends = []int{len(p.cur.bytes)}
		return p.flush(ctx)
	}
	b := p.cur.bytes
	switch line := fr.Line(); {
	case len(p.cur.ends) == 0 && line != nil:
		b, p.own = line, false
		if p.held != nil {
			p.held.refs.Add(1)
			p.cur.block = p.held
		}
	case !p.own && line != nil && follows(b, line):
		b = b[:len(b)+len(line)]
	default:
		if !p.own { // keep the view's lines, and copy from here on
			b = append(make([]byte, 0, max(4<<10, 2*len(b))), b...)
			p.own = true
			p.cur.block.release()
			p.cur.block = nil
		}
		b = append(append(b, msg...), '\n')
	}
	if p.cur.ends == nil {
		p.cur.ends = p.s.free.getEnds()
	}
	p.cur.ends = append(p.cur.ends, len(b))
	if !p.own { // the plain lines that follow in the buffer, at once
		var more []byte
		more, p.cur.ends = fr.MoreLines(p.cur.ends, len(b))
		b = b[:len(b)+len(more)]
	}
	p.cur.bytes, p.cur.host, p.cur.at = b, host, now
	if p.own && len(b) >= maxOwnRun {
		return p.flush(ctx)
	}
	return true
}

// follows reports whether line lies in memory right after a, so that
// a[:len(a)+len(line)] holds both.
func follows(a, line []byte) bool {
	return cap(a)-len(a) >= len(line) && &a[:len(a)+1][len(a)] == &line[0]
}

func (p *lines) flush(ctx context.Context) bool {
	if len(p.cur.ends) == 0 {
		return true
	}
	r := p.cur
	r.bytes = r.bytes[:len(r.bytes):len(r.bytes)] // a view's capacity is the framing buffer's
	p.cur, p.own = run{}, false
	select {
	case p.s.runs <- r:
		return true
	default:
	}
	select {
	case p.s.runs <- r:
		return true
	case <-ctx.Done():
		return false
	}
}
