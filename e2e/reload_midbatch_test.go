package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/metrictest"
)

// TestReloadMidBatch reloads sluiced (SIGHUP) while an http destination
// (webhook) has a batch in flight whose answer the receiver holds: http
// source -> route "main" -> destination "out" -> a receiver in this test.
// Two bodies are answered 200 first; the receiver holds the POST of the
// third, and the new config is sent with SIGHUP; a fourth body is posted
// while the reload runs, then the hold ends and a fifth body follows the
// reload.
//
//   - "route replaced": the route gets an "if"; the destination is kept,
//     its batch in flight with it. The held body is answered 200 once the
//     receiver answers.
//   - "destination replaced": its url becomes a second receiver's; the old
//     destination drains as at a stop, its held batch included, before the
//     new one starts. The held body is answered 200, its events in the
//     first receiver, and the later bodies in the second.
//   - "destination replaced, held past its stopTimeout": the old
//     destination gives up the held batch at its stopTimeout (2s), not
//     acked; the reload restarts the http source, which answers the held
//     body 503, and the sender resends it to the new destination.
//
// In each case: every body answered 200 has its events in a receiver, the
// held body's answer is the one the case says; no event is received twice
// and the source and destination acknowledge each event once (the acked
// counters equal the events in), except those resent in the last case; the
// reload takes less than shutdownTimeout, and the log says what it
// replaced and kept.
func TestReloadMidBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	cases := []struct {
		name, change string
		release      time.Duration // how long after the reload began the hold ends
		heldStatus   int           // the held body's answer
		log          []string      // in the reload's log lines
	}{
		{"route replaced", "route", time.Second, http.StatusOK,
			[]string{"replaceDestinations=[] replaceRoutes=[main] keepDestinations=[out]"}},
		{"destination replaced", "destination", time.Second, http.StatusOK,
			[]string{"replaceDestinations=[out] replaceRoutes=[main] keepDestinations=[]"}},
		{"destination replaced, held past its stopTimeout", "destination", 0, http.StatusServiceUnavailable,
			[]string{"replaceDestinations=[out] replaceRoutes=[main] keepDestinations=[]",
				"batch: stopped with messages not flushed; they are not acked",
				"reload: replaced destinations stopped with events not delivered",
				"reload: a replaced destination may have left events of this source unacknowledged: restarting it"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const (
				shutdownTimeout = 6 * time.Second
				heldFirst       = 2 * killBody // the first seq of the held body
			)
			dir := t.TempDir()
			addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			adminPort := freePort(t)
			recv1 := newReloadReceiver(t, heldFirst)
			recv2 := newReloadReceiver(t, -1)
			config := func(url, routeIf string) string {
				return fmt.Sprintf(`{
					"dataDir": %q,
					"admin": {"addr": "127.0.0.1:%d"},
					"shutdownTimeout": %q,
					"sources": {"in": {"type": "http", "addr": %q, "format": "ndjson"}},
					"destinations": {"out": {"type": "http", "url": %q, "format": "raw",
						"batch": {"age": "20ms", "stopTimeout": "2s"}}},
					"routes": [{"name": "main", "from": ["in"], "to": ["out"] %s}],
				}`, filepath.Join(dir, "data"), adminPort, shutdownTimeout, addr, url, routeIf)
			}
			next := config(recv1.url, `, "if": "true"`)
			if tc.change == "destination" {
				next = config(recv2.url, "")
			}
			d := start(t, dir, config(recv1.url, ""))
			k := newKillSender(t, addr)
			k.send(0)
			k.send(killBody)

			held := postAsync(t, addr, crashBody(heldFirst, killBody))
			waitForLong(t, "the receiver to hold the third body", 30*time.Second, recv1.isHeld)
			must(t, os.WriteFile(filepath.Join(dir, "sluiced.hujson"), []byte(next), 0o644))
			began := time.Now()
			must(t, d.cmd.Process.Signal(syscall.SIGHUP))
			waitFor(t, "the reload to begin", func() bool { return strings.Contains(d.logs.String(), "reload: applying the new config") })
			during := postAsync(t, addr, crashBody(3*killBody, killBody))
			var released time.Time
			if tc.release > 0 {
				time.Sleep(time.Until(began.Add(tc.release)))
				released = time.Now()
				recv1.free()
			}
			waitForLong(t, "the reload to end", 2*shutdownTimeout, func() bool {
				return strings.Contains(d.logs.String(), "reloaded: running the new config")
			})
			recv1.free()
			ended := logTime(t, d.logs.String(), "reloaded: running the new config")
			took := ended.Sub(logTime(t, d.logs.String(), "SIGHUP: reloading the config"))
			if tc.change == "destination" && !released.IsZero() && ended.Before(released.Truncate(time.Millisecond)) { // the log has milliseconds
				t.Errorf("the new config ran at %v, before the old destination's held batch was answered at %v: replaced destinations must drain first",
					ended.Format(time.StampMicro), released.Format(time.StampMicro))
			}
			if took > shutdownTimeout {
				t.Errorf("the reload took %v, more than shutdownTimeout (%v)", took.Round(time.Millisecond), shutdownTimeout)
			}

			st := held.status(t)
			if st != tc.heldStatus {
				t.Errorf("the held body was answered %d, want %d", st, tc.heldStatus)
			}
			posted, resent := 5*killBody, 0
			for _, b := range []struct {
				first int64
				st    int
			}{{heldFirst, st}, {3 * killBody, during.status(t)}} {
				switch {
				case b.st == http.StatusOK:
					k.acked = append(k.acked, seqRange(b.first, killBody)...)
				case tc.heldStatus == http.StatusOK:
					t.Errorf("the body from seq %d was answered %d, want 200", b.first, b.st)
					fallthrough
				default:
					k.send(b.first) // no 200 came: the sender resends
					posted += killBody
					resent += killBody
				}
			}
			k.send(4 * killBody)
			both := &receivers{recv1, recv2}
			k.waitDelivered(both)

			metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", adminPort)
			value := func(series string) float64 { return metrictest.Value(t, metrics, series) }
			if ok := value(`sluice_reloads_total{result="ok"}`); ok != 1 {
				t.Errorf("sluice_reloads_total{result=\"ok\"} = %v, want 1", ok)
			}
			in := value(`sluice_events_in_total{kind="source",name="in"}`)
			srcAcked := value(`sluice_acked_total{kind="source",name="in"}`)
			destIn := value(`sluice_events_in_total{kind="destination",name="out"}`)
			destAcked := value(`sluice_acked_total{kind="destination",name="out"}`)
			d.stop(t)

			logs := d.logs.String()
			for _, want := range tc.log {
				if !strings.Contains(logs, want) {
					t.Errorf("the logs do not say %q", want)
				}
			}
			dups, received := recv1.dups()+recv2.dups(), recv1.lines()+recv2.lines()
			t.Logf("reload took %v; held body answered %d; %d events acknowledged, %d resent, %d received again; source: %v in, %v acked; destination: %v in, %v acked",
				took.Round(time.Millisecond), st, len(k.acked), resent, dups, in, srcAcked, destIn, destAcked)
			if dups > resent {
				t.Errorf("%d events received twice, more than the %d resent", dups, resent)
			}
			// The source took every event posted and handed each on once;
			// it and the destination acknowledged exactly the events the
			// receivers stored, each once.
			if in != float64(posted) || destIn != in {
				t.Errorf("events in: source %v, destination %v; want %d posted", in, destIn, posted)
			}
			if srcAcked != float64(received) || destAcked != float64(received) {
				t.Errorf("acked: source %v, destination %v; want the %d events received", srcAcked, destAcked, received)
			}
			if tc.change == "destination" {
				for _, seq := range []int64{3 * killBody, 4 * killBody} {
					if !recv2.has(seq) {
						t.Errorf("seq %d, sent after the reload began, is not in the new destination's receiver", seq)
					}
				}
			}
		})
	}
}

// reloadReceiver is a webhook receiver of raw lines {"seq":N,...} that
// holds the first request holding seq hold until free is called; once
// freed it stores that request's events and answers 200, unless sluiced
// gave it up meanwhile.
type reloadReceiver struct {
	t     *testing.T
	url   string
	hold  int64
	held  chan struct{}
	freed chan struct{}
	once  sync.Once

	mu       sync.Mutex
	got      seqs
	holding  bool
	heldOnce bool
}

func newReloadReceiver(t *testing.T, hold int64) *reloadReceiver {
	r := &reloadReceiver{t: t, hold: hold, held: make(chan struct{}), freed: make(chan struct{}), got: seqs{parse: rawSeq}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	t.Cleanup(r.free) // before srv.Close, which waits for the handlers
	r.url = srv.URL
	return r
}

func (r *reloadReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	in := seqs{parse: rawSeq}
	in.addLines(r.t, body)
	r.mu.Lock()
	if in.has(r.hold) && !r.heldOnce {
		r.heldOnce, r.holding = true, true
		close(r.held)
		r.mu.Unlock()
		<-r.freed
		r.mu.Lock()
		r.holding = false
		if req.Context().Err() != nil {
			r.mu.Unlock()
			return // sluiced gave it up: not stored
		}
	}
	defer r.mu.Unlock()
	for seq := range in.seen {
		r.got.add(seq)
		r.got.lines++
	}
}

func (r *reloadReceiver) isHeld() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.holding
}

func (r *reloadReceiver) free() { r.once.Do(func() { close(r.freed) }) }

func (r *reloadReceiver) has(seq int64) bool { r.mu.Lock(); defer r.mu.Unlock(); return r.got.has(seq) }

func (r *reloadReceiver) dups() int { r.mu.Lock(); defer r.mu.Unlock(); return r.got.dups }

func (r *reloadReceiver) lines() int { r.mu.Lock(); defer r.mu.Unlock(); return r.got.lines }

// receivers are where a killSender's events may be delivered.
type receivers []*reloadReceiver

func (rs *receivers) read(*testing.T) {}

func (rs *receivers) has(seq int64) bool {
	for _, r := range *rs {
		if r.has(seq) {
			return true
		}
	}
	return false
}

// logTime returns the time of the first line of logs holding msg.
func logTime(t *testing.T, logs, msg string) time.Time {
	t.Helper()
	for line := range strings.Lines(logs) {
		if !strings.Contains(line, msg) {
			continue
		}
		ts, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		return at
	}
	t.Fatalf("no log line says %q", msg)
	return time.Time{}
}

// asyncPost is a POST whose answer a goroutine waits for.
type asyncPost chan int

// postAsync posts body to the http source at addr, once.
func postAsync(t *testing.T, addr string, body []byte) asyncPost {
	t.Helper()
	r := postHeld(t, addr, body)
	p := make(asyncPost, 1)
	go func() { p <- r.status(60 * time.Second) }()
	return p
}

// status waits for the answer: its status, or 0 if none came.
func (p asyncPost) status(t *testing.T) int {
	t.Helper()
	select {
	case st := <-p:
		p <- st
		return st
	case <-time.After(61 * time.Second):
		t.Fatal("no answer within 61s")
		return 0
	}
}
