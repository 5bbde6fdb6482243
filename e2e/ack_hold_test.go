package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ackHold is a TCP proxy to a broker that, at the holdAt-th answer
// acknowledging a publish, stops forwarding in both directions.
type ackHold struct {
	server string
	holdAt int64
	next   func(*bufio.Reader) (frame []byte, ack bool, err error) // reads one frame of the server's protocol
	acks   atomic.Int64
	frozen atomic.Bool
	held   chan struct{} // closed at the hold
	once   sync.Once
}

func (p *ackHold) listen(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.server)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); s.Close() })
			go p.toServer(c, s)
			go p.toClient(s, c)
		}
	}()
	return ln.Addr().String()
}

// toServer forwards the client's bytes until the hold, then drops them.
func (p *ackHold) toServer(c, s net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if !p.frozen.Load() {
			if _, err := s.Write(buf[:n]); err != nil {
				return
			}
		}
	}
}

// toClient forwards the server's frames, counting acks, and forwards
// nothing from the holdAt-th on.
func (p *ackHold) toClient(s, c net.Conn) {
	r := bufio.NewReader(s)
	for {
		frame, ack, err := p.next(r)
		if err != nil {
			return
		}
		if ack && p.acks.Add(1) == p.holdAt {
			p.frozen.Store(true)
			p.once.Do(func() { close(p.held) })
		}
		if p.frozen.Load() {
			continue
		}
		if _, err := c.Write(frame); err != nil {
			return
		}
	}
}

// natsFrame reads NATS protocol lines, with the payloads of MSG and
// HMSG: an ack is a message whose payload holds pubAck.
func natsFrame(pubAck string) func(*bufio.Reader) ([]byte, bool, error) {
	return func(r *bufio.Reader) ([]byte, bool, error) {
		line, err := r.ReadBytes('\n')
		if err != nil || !bytes.HasPrefix(line, []byte("MSG ")) && !bytes.HasPrefix(line, []byte("HMSG ")) {
			return line, false, err
		}
		f := strings.Fields(string(line))
		size, err := strconv.Atoi(f[len(f)-1])
		if err != nil {
			return nil, false, err
		}
		payload := make([]byte, size+2)
		if _, err := io.ReadFull(r, payload); err != nil {
			return nil, false, err
		}
		return append(line, payload...), bytes.Contains(payload, []byte(pubAck)), nil
	}
}

// mqttFrame reads one MQTT control packet: an ack is a PUBACK.
func mqttFrame(r *bufio.Reader) ([]byte, bool, error) {
	h, err := r.ReadByte()
	if err != nil {
		return nil, false, err
	}
	frame := []byte{h}
	size, shift := 0, 0
	for {
		b, err := r.ReadByte()
		if err != nil {
			return nil, false, err
		}
		frame = append(frame, b)
		size |= int(b&0x7f) << shift
		if b&0x80 == 0 {
			break
		}
		if shift += 7; shift > 21 {
			return nil, false, fmt.Errorf("mqtt: remaining length over 4 bytes")
		}
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, false, err
	}
	return append(frame, body...), h>>4 == 4, nil
}

// seqLog writes n numbered lines "seq=000123 <what> xxx..." to
// dir/app.log for a file source, and returns its path.
func seqLog(t *testing.T, dir string, n int, what string) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "seq=%06d %s %s\n", i, what, strings.Repeat("x", 100+i%100))
	}
	path := filepath.Join(dir, "app.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// holdKillConfig is a config reading path from the beginning, with a
// short checkpoint interval, into the destination dest (JSON).
func holdKillConfig(path, dest string) string {
	return fmt.Sprintf(`{
		"dataDir": "data",
		"shutdownTimeout": "10s",
		"sources": {"log": {"type": "file", "paths": [%q], "startAt": "beginning", "pollInterval": "20ms", "checkpointInterval": "50ms"}},
		"destinations": {"out": %s},
	}`, path, dest)
}

// waitAll waits for count() to reach n, or 30s: a loss shows as lines
// still missing then.
func waitAll(n int, count func() int) {
	for deadline := time.Now().Add(30 * time.Second); count() < n && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
}

// checkAllSent fails t if a seq below n is not in copies, and logs the
// duplicates.
func checkAllSent(t *testing.T, copies map[int64]int, n int, what string) {
	t.Helper()
	missing, dups := 0, 0
	for i := range int64(n) {
		if copies[i] == 0 {
			missing++
		}
		dups += max(copies[i]-1, 0)
	}
	t.Logf("%d lines, %s: %d missing, %d sent again", n, what, missing, dups)
	if missing > 0 || len(copies) != n {
		t.Errorf("%d of %d lines missing after %s (%d distinct seqs)", missing, n, what, len(copies))
	}
}

// ackHoldKill creates the dangerous moment of a broker destination (file
// source -> sluiced -> broker at server): a proxy between sluiced and the
// broker, reading its frames with next, holds the 3000th ack (what names
// it) and everything after it in both directions, and SIGKILLs sluiced a
// second later, twenty checkpoint intervals: the held message is the
// broker's, its ack never reaches sluiced, and what sluiced published
// after it never reaches the broker. A destination that acked before the
// broker's ack would have its events checkpointed by then. After a
// restart without the hold, received (each line's copies in the broker)
// must hold every line: none missing, duplicates counted. dest returns
// the destination's JSON for a broker at addr.
func ackHoldKill(t *testing.T, server, what string, next func(*bufio.Reader) ([]byte, bool, error),
	dest func(addr string) string, received func() map[int64]int) {
	t.Helper()
	const (
		n      = 20_000
		holdAt = 3000
	)
	p := &ackHold{server: server, holdAt: holdAt, next: next, held: make(chan struct{})}
	proxy := p.listen(t)
	dir := t.TempDir()
	logPath := seqLog(t, dir, n, "destination kill")
	d := start(t, dir, holdKillConfig(logPath, dest(proxy)))
	select {
	case <-p.held:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s %d never came: %d of them", what, holdAt, p.acks.Load())
	}
	time.Sleep(holdFor)
	d.kill()
	waitAll(holdAt, func() int { return len(received()) })
	in := len(received())
	t.Logf("SIGKILL with %s %d held: %d distinct lines in the broker", what, holdAt, in)
	if in < holdAt || in >= n {
		t.Fatalf("%d lines in the broker at the kill, want at least the %d acknowledged and fewer than %d: the test did not create its moment", in, holdAt, n)
	}
	d = start(t, dir, holdKillConfig(logPath, dest(server)))
	waitAll(n, func() int { return len(received()) })
	d.stop(t)
	checkAllSent(t, received(), n, "a SIGKILL with a "+what+" held")
}

// lineSeq returns the seq of a raw line "seq=000123 ...".
func lineSeq(t *testing.T, v []byte) int64 {
	s, _, _ := strings.Cut(strings.TrimPrefix(string(v), "seq="), " ")
	seq, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Errorf("record %q: no seq", v)
	}
	return seq
}

// holdFor is how long a kill test holds an answer before the SIGKILL:
// twenty checkpoint intervals of [holdKillConfig], so that a destination
// acking before the answer would have its events checkpointed by then.
const holdFor = time.Second

// httpHold is an HTTP server in front of serve (a destination's server,
// or a proxy to it) that holds the first request pick chooses: before
// serving it (what it asks never happens), or with after, once served
// (it happened; its answer never reaches sluiced). From then on every
// request waits and is never served. The test kills sluiced during the
// hold; see [httpHold.kill].
type httpHold struct {
	serve   http.Handler
	pick    func(*http.Request) bool // called with every request until the hold
	after   bool
	frozen  atomic.Bool
	held    chan struct{} // closed once the held request is in (and served, with after)
	release chan struct{} // closed after the kill: the handlers return
	once    sync.Once
	req     *http.Request // the held request, and its body
	body    []byte
}

func newHTTPHold(serve http.Handler, pick func(*http.Request) bool, after bool) *httpHold {
	return &httpHold{serve: serve, pick: pick, after: after, held: make(chan struct{}), release: make(chan struct{})}
}

func (h *httpHold) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if !h.frozen.Load() && h.pick(r) && h.frozen.CompareAndSwap(false, true) {
		if h.after {
			rec := httptest.NewRecorder() // the whole answer: the request is done
			h.serve.ServeHTTP(rec, r)
		}
		h.req, h.body = r, body
		close(h.held)
	}
	if h.frozen.Load() {
		<-h.release
		http.Error(w, "held", http.StatusServiceUnavailable) // to a dead connection
		return
	}
	h.serve.ServeHTTP(w, r)
}

func (h *httpHold) free() { h.once.Do(func() { close(h.release) }) }

// kill starts sluiced with config(URL of the hold), waits for the hold,
// holds for holdFor, SIGKILLs sluiced and ends the hold: the held
// request is then in h.req and h.body. If the request to hold never
// comes within a minute (a destination that acked what it had not
// sent may have finished the file), it fails t, kills sluiced and
// reports false: the caller checks what reached the server.
func (h *httpHold) kill(t *testing.T, dir string, config func(url string) string, what string) bool {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(h.free) // before srv.Close, which waits for the handlers
	d := start(t, dir, config(srv.URL))
	defer h.free()
	select {
	case <-h.held:
	case <-time.After(60 * time.Second):
		t.Errorf("%s never came", what)
		d.kill()
		return false
	}
	time.Sleep(holdFor)
	d.kill()
	return true
}
