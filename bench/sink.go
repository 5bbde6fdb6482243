package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Sinks of a case: what the subject writes to.
const (
	SinkFile = ""     // a file in the subject's directory, tailed by a Watcher
	SinkTCP  = "tcp"  // newline-delimited lines over TCP (TCPSink)
	SinkHTTP = "http" // POSTs of NDJSON or a JSON array (HTTPSink)
)

// Tally is the sequence-number oracle, fed line by line: by Check from a
// file, and by the TCP and HTTP sinks as lines arrive. It is safe for
// concurrent use; each AddLines call holds the lock once.
type Tally struct {
	mu       sync.Mutex
	n        int
	seen     []uint64
	distinct int
	prev     int
	v        Verdict
	stamps   *Stamps // if set, the first receipt of each seq is timed
	lines    atomic.Int64
	bytes    atomic.Int64
}

// NewTally returns an oracle for seq 0..n-1; st, if not nil, gets the
// receive time of each seq.
func NewTally(n int, st *Stamps) *Tally {
	return &Tally{n: n, seen: make([]uint64, (n+63)/64), prev: -1, stamps: st}
}

// AddLines counts the complete lines of buf (each ending with '\n') and
// returns the incomplete rest, which the caller prepends to what comes
// next. Only the first "seq=" of a line counts (a JSON event carries the
// message twice: in raw and in the parsed fields).
func (t *Tally) AddLines(buf []byte) (rest []byte) {
	var now int64
	if t.stamps != nil {
		now = t.stamps.Now()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			return buf
		}
		t.add(buf[:i+1], now)
		buf = buf[i+1:]
	}
}

// AddLine counts one line (with or without its newline).
func (t *Tally) AddLine(line []byte) {
	var now int64
	if t.stamps != nil {
		now = t.stamps.Now()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.add(line, now)
}

func (t *Tally) add(line []byte, now int64) {
	t.v.Lines++
	t.v.Bytes += int64(len(line))
	t.lines.Add(1)
	t.bytes.Add(int64(len(line)))
	seq, ok := findSeq(line)
	switch {
	case !ok || seq >= t.n:
		t.v.NoSeq++
	case t.seen[seq/64]&(1<<(seq%64)) != 0:
		t.v.Duplicates++
	default:
		t.seen[seq/64] |= 1 << (seq % 64)
		t.distinct++
		if t.stamps != nil {
			t.stamps.Recv[seq] = now
		}
	}
	if ok {
		if seq < t.prev {
			t.v.Reordered++
		}
		t.prev = seq
	}
}

// Poll returns the lines and bytes counted so far; it makes a Tally
// something WaitLines can wait on.
func (t *Tally) Poll() (int, int64, error) { return int(t.lines.Load()), t.bytes.Load(), nil }

// Verdict returns what the oracle found so far.
func (t *Tally) Verdict() Verdict {
	t.mu.Lock()
	defer t.mu.Unlock()
	v := t.v
	v.Missing = t.n - t.distinct
	return v
}

// Stamps are the send and receive times of each seq, in nanoseconds
// since Base (0: not sent, or not received). The generator sets Sent[i]
// just before it writes the frame (paced TCP and UDP: with the frames due
// at the same wake-up, one when it keeps up; unpaced: the chunk or batch;
// HTTP: the request) holding frame i, and, when paced, Due[i] to when it
// was due; a sink sets Recv[i] when it first sees line i. No timestamp
// travels in the payload.
type Stamps struct {
	Base time.Time
	Sent []int64
	Due  []int64
	Recv []int64
}

// NewStamps returns Stamps for n lines.
func NewStamps(n int) *Stamps {
	return &Stamps{Base: time.Now(), Sent: make([]int64, n), Due: make([]int64, n), Recv: make([]int64, n)}
}

// Now is the time since Base in nanoseconds, at least 1.
func (s *Stamps) Now() int64 { return max(1, int64(time.Since(s.Base))) }

// mark records now as the send time of frames [lo, hi); s may be nil.
func (s *Stamps) mark(lo, hi int) {
	if s == nil {
		return
	}
	now := s.Now()
	for i := lo; i < hi; i++ {
		s.Sent[i] = now
	}
}

// markDue records now as the send time of frames [lo, hi), and when each
// was due: start + (i-first)*interval ns; s may be nil.
func (s *Stamps) markDue(lo, hi int, start time.Time, interval float64, first int) {
	if s == nil {
		return
	}
	s.mark(lo, hi)
	at := int64(start.Sub(s.Base))
	for i := lo; i < hi; i++ {
		s.Due[i] = at + int64(float64(i-first)*interval)
	}
}

// Latency is a replica's ingest-to-sink latency distribution, and how
// late the generator sent the lines (paced sends only).
type Latency struct {
	N              int // lines both sent and received
	P50, P99, P999 time.Duration
	Max            time.Duration
	LateP99        time.Duration // p99 of send − due
}

// Latency returns the percentiles of Recv-Sent over the lines received.
func (s *Stamps) Latency() Latency {
	d := make([]int64, 0, len(s.Sent))
	var late []int64
	for i, sent := range s.Sent {
		if sent > 0 && s.Recv[i] > 0 {
			d = append(d, s.Recv[i]-sent)
		}
		if sent > 0 && i < len(s.Due) && s.Due[i] > 0 {
			late = append(late, sent-s.Due[i])
		}
	}
	if len(d) == 0 {
		return Latency{}
	}
	l := Latency{N: len(d), P50: quantile(d, 0.50), P99: quantile(d, 0.99), P999: quantile(d, 0.999), Max: quantile(d, 1)}
	if len(late) > 0 {
		l.LateP99 = quantile(late, 0.99)
	}
	return l
}

// quantile sorts d and returns its p-quantile (p = 1: the largest).
func quantile(d []int64, p float64) time.Duration {
	slices.Sort(d)
	return time.Duration(d[min(len(d)-1, int(p*float64(len(d))))])
}

// Sink is a TCP or HTTP receiver run by the harness for one replica.
type Sink struct {
	Kind  string
	Addr  string // host:port
	Tally *Tally
	ln    net.Listener
	srv   *http.Server
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]bool
	errs  atomic.Int64 // malformed requests
}

// URL is where an HTTP sink takes POSTs.
func (s *Sink) URL() string { return "http://" + s.Addr + "/" }

// StartSink listens on a free port of 127.0.0.1 and feeds what arrives
// to t.
func StartSink(kind string, t *Tally) (*Sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Sink{Kind: kind, Addr: ln.Addr().String(), Tally: t, ln: ln, conns: map[net.Conn]bool{}}
	switch kind {
	case SinkTCP:
		s.wg.Go(s.acceptTCP)
	case SinkHTTP:
		s.srv = &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
		s.wg.Go(func() { _ = s.srv.Serve(ln) })
	default:
		ln.Close()
		return nil, fmt.Errorf("unknown sink %q", kind)
	}
	return s, nil
}

// tally returns s's oracle as a Poller; nil if s is nil.
func (s *Sink) tally() Poller {
	if s == nil {
		return nil
	}
	return s.Tally
}

// Drain stops taking connections and waits up to d for the open ones to
// end (TCP) or for the requests in flight to be answered (HTTP).
func (s *Sink) Drain(d time.Duration) {
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		_ = s.srv.Shutdown(ctx)
		return
	}
	_ = s.ln.Close()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		s.mu.Lock()
		open := len(s.conns)
		s.mu.Unlock()
		if open == 0 {
			return
		}
	}
}

// Close stops listening and drops open connections.
func (s *Sink) Close() error {
	if s.srv != nil {
		err := s.srv.Close()
		s.wg.Wait()
		return err
	}
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Sink) acceptTCP() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.readLines(c)
		})
	}
}

// readLines feeds the newline-delimited lines of r to the oracle; a last
// line without a newline counts too.
func (s *Sink) readLines(r io.Reader) {
	buf := make([]byte, 256<<10)
	have := 0
	for {
		n, err := r.Read(buf[have:])
		have += n
		rest := s.Tally.AddLines(buf[:have])
		have = copy(buf, rest)
		if have == len(buf) { // a line longer than the buffer
			buf = append(buf, make([]byte, len(buf))...)
		}
		if err != nil {
			if have > 0 {
				s.Tally.AddLine(buf[:have])
			}
			return
		}
	}
}

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// serveHTTP takes a POST whose body is NDJSON (or any lines) or a JSON
// array, gzipped if Content-Encoding says so, and answers 200 once every
// event is counted.
func (s *Sink) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			s.errs.Add(1)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer zr.Close()
		body = zr
	}
	b := bodyPool.Get().(*bytes.Buffer)
	defer bodyPool.Put(b)
	b.Reset()
	if _, err := b.ReadFrom(body); err != nil {
		s.errs.Add(1)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	data := bytes.TrimSpace(b.Bytes())
	if len(data) > 0 && data[0] == '[' {
		var events []json.RawMessage
		if err := json.Unmarshal(data, &events); err != nil {
			s.errs.Add(1)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, e := range events {
			s.Tally.AddLine(e)
		}
	} else if len(data) > 0 {
		if rest := s.Tally.AddLines(b.Bytes()); len(bytes.TrimSpace(rest)) > 0 {
			s.Tally.AddLine(rest)
		}
	}
	w.WriteHeader(http.StatusOK)
}

// errMalformed is returned when an HTTP sink got requests it could not read.
var errMalformed = errors.New("the HTTP sink got malformed requests")

// Err reports malformed requests, if any.
func (s *Sink) Err() error {
	if n := s.errs.Load(); n > 0 {
		return fmt.Errorf("%w: %d", errMalformed, n)
	}
	return nil
}
