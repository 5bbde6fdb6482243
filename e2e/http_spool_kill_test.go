package e2e

import (
	"bufio"
	"fmt"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// killBody is the number of events of each request of the kill tests.
const killBody = 20

// TestHTTPSpoolKill kills sluiced (SIGKILL) at the two moments around the
// 200 of an http source whose destination has a disk buffer (default
// settings: sync "batch"), and checks that every event answered 200, and
// every event spooled, reaches the destination after a restart.
//
//   - "spooled, no 200": strace holds every fsync of the spool's segment
//     files at its start; the test waits until the request's events are in
//     the segment, requires that no answer came (a 200 now would
//     acknowledge events not yet fsynced), and kills sluiced. After the
//     restart the spool delivers them before anyone resends them; the
//     sender, which got no 200, then resends the body: duplicates, as
//     at-least-once allows.
//   - "after the 200": the test kills sluiced the moment it reads the 200.
//     The events must be in the spool then (or already delivered from it).
//
// Before each moment two requests are answered 200; after the restart one
// more. Every acknowledged event must be in the destination.
func TestHTTPSpoolKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	for _, hold := range []bool{true, false} {
		name := "after the 200"
		if hold {
			name = "spooled, no 200"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			port := freePort(t)
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			out := &seqs{path: filepath.Join(dir, "out.ndjson"), parse: rawSeq}
			spoolDir := filepath.Join(dir, "data", "spool", "out")
			config := fmt.Sprintf(`{
				"dataDir": %q,
				"sources": {"in": {"type": "http", "addr": %q, "format": "ndjson"}},
				"destinations": {"out": {"type": "file", "path": %q, "format": "raw",
					"batch": {"age": "20ms"}, "buffer": {"type": "disk"}}},
			}`, filepath.Join(dir, "data"), addr, out.path)
			d := start(t, dir, config)
			k := newKillSender(t, addr)
			k.send(0)
			k.send(killBody)

			const held = 2 * killBody // the first seq of the request at the moment
			if hold {
				// Only the fsyncs of the segment files: a 200 that waited
				// for another fsync (the directory's) would come.
				segs, err := filepath.Glob(filepath.Join(spoolDir, "*.seg"))
				must(t, err)
				var args []string
				for _, seg := range segs {
					args = append(args, "-P", seg)
				}
				d.trace(t, append(args, "-e", "trace=fsync", "-e", "inject=fsync:delay_enter=30000000")...)
			}
			r := postHeld(t, addr, crashBody(held, killBody))
			// stored returns how many of the held request's events are in
			// the spool or in the destination.
			stored := func() int {
				got := map[int64]bool{}
				spoolSeqs(t, spoolDir, func(seq int64) { got[seq] = true })
				out.read(t)
				maps.Copy(got, out.seen)
				n := 0
				for _, seq := range seqRange(held, killBody) {
					if got[seq] {
						n++
					}
				}
				return n
			}
			var st int // the answer the sender got
			if hold {
				// Or in the destination: the spool forwards only fsynced
				// records, so only a broken spool gets them there now (and
				// answers 200, which the check below reports).
				waitForLong(t, "the held request's events in the spool", 30*time.Second, func() bool { return stored() == killBody })
				st = r.status(200 * time.Millisecond)
			} else if st = r.status(30 * time.Second); st != http.StatusOK {
				t.Fatalf("the request was answered %d, want 200", st)
			}
			d.kill()
			if st == 0 {
				st = r.status(time.Second)
			}
			switch {
			case hold && st != 0:
				// An error; the test goes on to show what it loses.
				t.Errorf("the request was answered %d while the fsync of its records was held: acknowledged before durable", st)
			case !hold:
				if n := stored(); n < killBody {
					t.Errorf("answered 200, but only %d of its %d events were in the spool or the destination at the kill", n, killBody)
				}
			}
			if st == http.StatusOK {
				k.acked = append(k.acked, seqRange(held, killBody)...)
			}

			d = start(t, dir, config)
			if st != http.StatusOK {
				// Delivered from the spool, before the sender resends them.
				waitForLong(t, "the spooled events in the destination", 30*time.Second, func() bool {
					out.read(t)
					for _, seq := range seqRange(held, killBody) {
						if !out.seen[seq] {
							return false
						}
					}
					return true
				})
				k.send(held) // no 200 came: the sender resends
			}
			k.send(held + killBody)
			k.waitDelivered(out)
			d.stop(t)
			out.read(t)
			t.Logf("%d events acknowledged, %d in the destination, %d duplicates", len(k.acked), len(out.seen), out.dups)
		})
	}
}

// killSender sends bodies of killBody events to the http source at addr,
// resending each until it gets 200, and keeps the seqs acknowledged.
type killSender struct {
	t     *testing.T
	s     *sender
	acked []int64
}

func newKillSender(t *testing.T, addr string) *killSender {
	s := newSender("http://" + addr + "/")
	t.Cleanup(s.client.CloseIdleConnections)
	return &killSender{t: t, s: s}
}

// send posts the body of the events from first until it gets 200.
func (k *killSender) send(first int64) {
	k.t.Helper()
	body := crashBody(first, killBody)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if ok, _ := k.s.post(k.t.Context(), body); ok {
			k.acked = append(k.acked, seqRange(first, killBody)...)
			return
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("the body from seq %d got no 200 within 30s", first)
		}
	}
}

// waitDelivered waits until every acknowledged seq is in out, failing
// with those missing after 30s.
func (k *killSender) waitDelivered(out interface {
	read(*testing.T)
	has(int64) bool
}) {
	k.t.Helper()
	var missing []int64
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out.read(k.t)
		missing = missing[:0]
		for _, seq := range k.acked {
			if !out.has(seq) {
				missing = append(missing, seq)
			}
		}
		if len(missing) == 0 {
			return
		}
	}
	k.t.Fatalf("%d of %d acknowledged events are not in the destination after 30s: %v", len(missing), len(k.acked), missing)
}

func seqRange(first, n int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = first + int64(i)
	}
	return out
}

// heldRequest is a POST whose answer the test reads only when it chooses
// to: the test kills sluiced before or after it.
type heldRequest struct {
	conn net.Conn
	br   *bufio.Reader
}

func postHeld(t *testing.T, addr string, body []byte) *heldRequest {
	t.Helper()
	c := dial(t, addr)
	t.Cleanup(func() { c.Close() })
	req := fmt.Appendf(nil, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-ndjson\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body)
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	return &heldRequest{conn: c, br: bufio.NewReader(c)}
}

// status waits up to d for the answer and returns its status, or 0 if
// none came (the connection was closed, or d passed).
func (h *heldRequest) status(d time.Duration) int {
	_ = h.conn.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(h.br, nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
