package e2e

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/spool"
)

// Shape of the load of TestHTTPCrash.
const (
	crashSenders    = 4   // goroutines posting at once
	crashBodyEvents = 50  // events per request body
	crashEventBytes = 250 // about, per event line
	// crashPace is the least time between the starts of two requests of
	// one sender: at most 10k events/s in all, so that a stress run does
	// not write gigabytes (a disk buffer acks faster than that).
	crashPace = 20 * time.Millisecond
)

// httpCrashMode is one pipeline TestHTTPCrash kills.
type httpCrashMode struct {
	name   string
	dest   string // "file", or "http-down": a webhook target that is down at times
	buffer string // the destination's "buffer" object, or "" for none (in memory)
	disk   bool   // the buffer acks what it spooled, before the destination took it
}

const diskBuffer = `{"type": "disk", "maxBytes": 268435456, "whenFull": "block", "sync": "batch"}`

var httpCrashModes = []httpCrashMode{
	{name: "file/disk", dest: "file", buffer: diskBuffer, disk: true},
	{name: "http-down/disk", dest: "http-down", buffer: diskBuffer, disk: true},
	{name: "file/memory", dest: "file", buffer: `{"type": "memory"}`},
	{name: "http-down/memory", dest: "http-down", buffer: `{"type": "memory"}`},
}

// TestHTTPCrash posts numbered events to sluiced's http source, kills
// sluiced with SIGKILL at random moments under load, restarts it, and
// checks that every event whose request got 200 reaches the destination.
// The http source answers 200 only once every event of the request is
// acknowledged downstream (by the file destination after fsync, by the
// http destination after a 2xx, or by the destination's disk buffer once
// spooled), and the senders resend a body until it gets 200, so nothing
// acknowledged may be lost; duplicates are allowed (at-least-once) and
// counted.
//
// Modes: "file" writes raw lines to a file; "http-down" posts them to an
// HTTP server in the test process that is down (503, or its listener
// closed) for one or two cycles at a time, a few times in the run, and up
// at the end.
//
// SLUICE_CRASH_CYCLES sets the number of kill cycles per mode (default 50;
// 500 for a stress run).
func TestHTTPCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	cycles := crashCycles(t, 50)
	var rows []*crashRow
	for _, m := range httpCrashModes {
		row := &crashRow{mode: m.name, cycles: cycles}
		rows = append(rows, row)
		t.Run(m.name, func(t *testing.T) { runHTTPCrash(t, m, row) })
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-18s %6s %6s %10s %10s %7s %6s %8s %9s %9s %9s\n", "mode", "cycles", "downs",
		"acked", "in dest", "missing", "dups", "max dups", "of bound", "recov p50", "recov max")
	for _, r := range rows {
		if !r.ran {
			continue // left out by -run
		}
		p50, pmax := r.recoveries()
		fmt.Fprintf(&b, "%-18s %6d %6d %10d %10d %7d %6d %8d %8.0f%% %9s %9s\n", r.mode, r.cycles, r.downs,
			r.acked, r.inDest, r.missing, r.dups, r.maxDups, 100*r.worst, p50, pmax)
	}
	t.Logf("http source crash test (recovery: restart to first 200, over %s):\n%s",
		"the cycles whose pipeline could answer", b.String())
}

// crashRow is one line of TestHTTPCrash's report.
type crashRow struct {
	mode                   string
	ran                    bool
	cycles, downs          int
	acked, inDest, missing int
	dups, maxDups          int
	worst                  float64         // the largest share of its bound one run's duplicates took
	runDups                []int           // duplicates written by each run of the daemon
	recov                  []time.Duration // restart to first 200, per run that could answer
}

func (r *crashRow) recovery(d time.Duration) { r.recov = append(r.recov, d) }

// recoveries returns the median and the longest recovery.
func (r *crashRow) recoveries() (p50, pmax time.Duration) {
	if len(r.recov) == 0 {
		return 0, 0
	}
	s := slices.Sorted(slices.Values(r.recov))
	return s[len(s)/2].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond)
}

// runHTTPCrash runs one mode and fills in row (what it got to, if it
// fails).
func runHTTPCrash(t *testing.T, m httpCrashMode, row *crashRow) {
	row.ran = true
	cycles := row.cycles
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	dir := t.TempDir()
	port := freePort(t)

	// out holds what reached the destination. For "file" it is read from
	// the output file; for "http-down" the target adds to it.
	out := &seqs{path: filepath.Join(dir, "out.ndjson"), parse: rawSeq}
	var outMu sync.Mutex // guards out for the target's handlers
	var tg *target
	buffer := ""
	if m.buffer != "" {
		buffer = `, "buffer": ` + m.buffer
	}
	var dest string
	switch m.dest {
	case "file":
		dest = fmt.Sprintf(`{"type": "file", "path": %q, "format": "raw", "maxBytes": 0,
			"batch": {"age": "20ms"}%s}`, out.path, buffer)
	case "http-down":
		tg = newTarget(t, func(seq int64) { outMu.Lock(); out.add(seq); outMu.Unlock() })
		dest = fmt.Sprintf(`{"type": "http", "url": "http://%s/", "timeout": "5s",
			"batch": {"age": "20ms", "retry": {"initial": "10ms", "max": "200ms"}}%s}`, tg.addr, buffer)
	default:
		t.Fatalf("unknown destination %q", m.dest)
	}
	config := fmt.Sprintf(`{
		"dataDir": %q,
		"shutdownTimeout": "10s",
		"sources": {"in": {"type": "http", "addr": "127.0.0.1:%d", "format": "ndjson", "requestTimeout": "10s"}},
		"destinations": {"out": %s},
	}`, filepath.Join(dir, "data"), port, dest)

	// Without a disk buffer the http source acks only what the target
	// took, so a request cannot get 200 while the target is down.
	canAnswer := func() bool { return tg == nil || m.disk || tg.isUp() }

	// The target is down for one or two cycles, every six to eleven
	// cycles, never in the first two or the last two.
	down := make([]bool, cycles)
	if tg != nil {
		for c := 2 + rng.IntN(4); c < cycles-3; c += 6 + rng.IntN(6) {
			row.downs++
			for i := range 1 + rng.IntN(2) {
				down[c+i] = true
			}
		}
	}

	// snapshot reads what the destination holds now and returns the
	// duplicates counted so far.
	snapshot := func() int {
		if tg != nil {
			outMu.Lock()
			defer outMu.Unlock()
			return out.dups
		}
		out.read(t)
		return out.dups
	}

	s := newSender(fmt.Sprintf("http://127.0.0.1:%d/", port))
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range crashSenders {
		wg.Go(func() { s.run(ctx) })
	}
	stopSenders := sync.OnceFunc(func() { cancel(); wg.Wait(); s.client.CloseIdleConnections() })
	t.Cleanup(stopSenders)

	// Duplicates are attributed to the daemon run that wrote the copy: the
	// destination is read (for "file") or its count taken (for "http-down")
	// after each kill, when the dead daemon can write nothing more, so what
	// was added since the previous kill was written by this run. A run
	// starts with a crash recovery (the events the crash left
	// unacknowledged are sent again, by the senders or from the buffer), so
	// maxDups is the most duplicates one crash caused. A POST of the webhook
	// that was being handled when the daemon died may add a copy just after
	// the count; it then counts for the next run.
	//
	// Each run's duplicates must stay within the bound docs/delivery.md
	// states for the path, taken at the kill that began the run: the
	// http source's requests not answered 200 when it died (crashSenders
	// bodies of crashBodyEvents: every sender has one request in flight,
	// far below maxConcurrentRequests), plus, behind a disk buffer, the
	// records the spool delivers again: those past its persisted read
	// position that the destination already holds (acked within one
	// checkpointInterval, or in flight to it) or that repeat a record
	// before them (see replays), read from the spool's files after the
	// kill.
	spoolDir := filepath.Join(dir, "data", "spool", "out")
	inFlight := crashSenders * crashBodyEvents
	bound := inFlight // of the first run: no crash before it, so no duplicate is due
	check := func(run, dups int) {
		if dups > bound {
			t.Errorf("run %d wrote %d duplicates, over the bound of %d (%d events of the requests in flight + %d records past the spool's position that repeat an event)",
				run, dups, bound, inFlight, bound-inFlight)
		}
		row.worst = max(row.worst, float64(dups)/float64(bound))
	}
	prevDups, maxDups := 0, 0
	for c := range cycles {
		s.cycle.Store(int64(c))
		restart := time.Now()
		d := start(t, dir, config)
		if tg != nil {
			tg.set(!down[c], c%2 == 0) // down: 503 on even cycles, refused on odd ones
		}
		if canAnswer() {
			at := s.waitOK(restart, 10*time.Second)
			if at.IsZero() {
				t.Fatalf("cycle %d: no request got 200 within 10s of the restart (%d acknowledged so far)", c, s.ackedCount())
			}
			row.recovery(at.Sub(restart))
		}
		time.Sleep(time.Duration(100+rng.IntN(601)) * time.Millisecond) // the crash point, not synchronisation
		d.kill()
		if tg != nil {
			tg.idle(t) // a POST the daemon made before it died is counted now
		}
		dups := snapshot()
		check(c, dups-prevDups)
		maxDups = max(maxDups, dups-prevDups)
		row.runDups = append(row.runDups, dups-prevDups)
		prevDups = dups
		row.maxDups = maxDups
		bound = inFlight
		if m.disk {
			bound += replays(t, spoolDir, func(seq int64) bool {
				outMu.Lock()
				defer outMu.Unlock()
				return out.seen[seq]
			})
		}
	}

	// The last run: the target is up, the senders go on for a while, then
	// stop, and every acknowledged event must arrive.
	if tg != nil {
		tg.set(true, false)
	}
	s.cycle.Store(int64(cycles))
	restart := time.Now()
	d := start(t, dir, config)
	at := s.waitOK(restart, 10*time.Second)
	if at.IsZero() {
		t.Fatalf("last run: no request got 200 within 10s of the restart")
	}
	row.recovery(at.Sub(restart))
	time.Sleep(300 * time.Millisecond) // load after the last restart, not synchronisation
	stopSenders()
	acked := s.ackedSeqs()
	row.acked = len(acked)
	missingNow := func() []int64 {
		if tg != nil {
			outMu.Lock()
			defer outMu.Unlock()
		} else {
			out.read(t)
		}
		var miss []int64
		for _, seq := range acked {
			if !out.seen[seq] {
				miss = append(miss, seq)
			}
		}
		return miss
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		miss := missingNow()
		if len(miss) == 0 {
			break
		}
		if time.Now().After(deadline) {
			outMu.Lock()
			row.inDest, row.dups, row.missing = len(out.seen), out.dups, len(miss)
			outMu.Unlock()
			var first []string
			for _, seq := range miss[:min(len(miss), 10)] {
				first = append(first, fmt.Sprintf("%d (acknowledged in run %d)", seq, s.ackedIn(seq)))
			}
			t.Fatalf("after 60s, %d of %d acknowledged events are not in the destination: %s",
				len(miss), len(acked), strings.Join(first, ", "))
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.stop(t)
	dups := snapshot()
	check(cycles, dups-prevDups)
	maxDups = max(maxDups, dups-prevDups)
	row.runDups = append(row.runDups, dups-prevDups)

	if tg != nil && tg.err() != nil {
		t.Error(tg.err())
	}
	outMu.Lock()
	row.inDest, row.dups = len(out.seen), out.dups
	outMu.Unlock()
	row.maxDups = maxDups
	t.Logf("%d requests, %d answered non-2xx, %d connection errors; duplicates written by each run: %v",
		s.requests.Load(), s.rejected.Load(), s.connErrs.Load(), row.runDups)
}

// rawSeq is the seq of a line {"seq":N,...}, the raw of an event.
func rawSeq(line []byte) (int64, error) {
	var ev struct {
		Seq *int64 `json:"seq"`
	}
	if err := json.Unmarshal(line, &ev); err != nil {
		return 0, err
	}
	if ev.Seq == nil {
		return 0, errors.New("no seq")
	}
	return *ev.Seq, nil
}

// sender posts bodies of numbered events to the http source, resending
// each until it gets 200.
type sender struct {
	url    string
	client *http.Client
	next   atomic.Int64 // the first seq of the next body
	lastOK atomic.Int64 // when the latest 200 came, in Unix nanoseconds
	cycle  atomic.Int64 // the daemon's run now, for ackedIn

	requests, rejected, connErrs atomic.Int64

	mu    sync.Mutex
	acked []ackedBody
}

// ackedBody is a body that got 200.
type ackedBody struct {
	first int64 // the seq of its first event
	run   int64 // the daemon's run that answered 200
}

func newSender(url string) *sender {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = crashSenders
	return &sender{url: url, client: &http.Client{Transport: tr}}
}

// run posts bodies until ctx is done. A request cut by ctx counts as not
// acknowledged.
func (s *sender) run(ctx context.Context) {
	for ctx.Err() == nil {
		first := s.next.Add(crashBodyEvents) - crashBodyEvents
		body := crashBody(first, crashBodyEvents)
		for {
			began := time.Now()
			ok, down := s.post(ctx, body)
			if ok {
				s.lastOK.Store(time.Now().UnixNano())
				s.mu.Lock()
				s.acked = append(s.acked, ackedBody{first, s.cycle.Load()})
				s.mu.Unlock()
				select {
				case <-ctx.Done():
				case <-time.After(time.Until(began.Add(crashPace))):
				}
				break
			}
			wait := 2 * time.Millisecond // rejected: the daemon is busy or the target is down
			if down {
				wait = 10 * time.Millisecond // no daemon: it is restarting
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}
}

// crashBody returns a body of n events numbered from first, of about
// crashEventBytes each: {"seq":N,"msg":"xxx..."}.
func crashBody(first, n int64) []byte {
	pad := strings.Repeat("x", crashEventBytes-30)
	var body []byte
	for i := range n {
		body = fmt.Appendf(body, `{"seq":%d,"msg":"%s"}`+"\n", first+i, pad)
	}
	return body
}

// post sends body once and reports whether it got 200, or else whether it
// could not reach the daemon.
func (s *sender) post(ctx context.Context, body []byte) (ok, down bool) {
	s.requests.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		panic(err) // a bad URL: a bug in the test
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := s.client.Do(req)
	if err != nil {
		s.connErrs.Add(1)
		return false, true
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.rejected.Add(1)
		return false, false
	}
	return true, false
}

// waitOK waits up to d for a 200 that came after since and returns when
// it came, or the zero time.
func (s *sender) waitOK(since time.Time, d time.Duration) time.Time {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if at := s.lastOK.Load(); at > since.UnixNano() {
			return time.Unix(0, at)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Time{}
}

func (s *sender) ackedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acked) * crashBodyEvents
}

// ackedSeqs returns every acknowledged seq, in order.
func (s *sender) ackedSeqs() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int64
	for _, b := range s.acked {
		for i := range int64(crashBodyEvents) {
			out = append(out, b.first+i)
		}
	}
	slices.Sort(out)
	return out
}

// ackedIn returns the run in which seq was acknowledged, or -1.
func (s *sender) ackedIn(seq int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.acked {
		if seq >= b.first && seq < b.first+crashBodyEvents {
			return b.run
		}
	}
	return -1
}

// target is the HTTP server the http destination posts to. It can be up,
// down with its listener closed (connections refused), or down answering
// 503.
type target struct {
	t    *testing.T
	addr string
	add  func(seq int64)

	mu   sync.Mutex
	srv  *http.Server // nil while the listener is closed
	fail bool         // answer 503
	bad  error        // the first body that did not parse

	active atomic.Int64 // requests being handled
}

// idle waits until no request is being handled: after the daemon is
// killed, one whose body had arrived may still be adding its events. Two
// bodies of 1000 events each, parsed under -race on a loaded machine
// (load 40), took over 5s: the deadline only bounds a handler that hangs.
func (tg *target) idle(t *testing.T) {
	deadline := time.Now().Add(60 * time.Second)
	for tg.active.Load() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("target: %d requests still handled 60s after the daemon died", tg.active.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

func newTarget(t *testing.T, add func(seq int64)) *target {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tg := &target{t: t, addr: ln.Addr().String(), add: add}
	tg.serve(ln)
	t.Cleanup(func() { tg.set(false, false) })
	return tg
}

func (tg *target) serve(ln net.Listener) {
	tg.srv = &http.Server{Handler: http.HandlerFunc(tg.handle)}
	go func() { _ = tg.srv.Serve(ln) }()
}

// set makes the target up, or down: answering 503 if fail, else with its
// listener and connections closed.
func (tg *target) set(up, fail bool) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.fail = !up && fail
	switch {
	case up || fail:
		if tg.srv == nil {
			// The port may have been taken meanwhile as the local port of a
			// connection: try for a while.
			var ln net.Listener
			var err error
			for range 100 {
				if ln, err = net.Listen("tcp", tg.addr); err == nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err != nil {
				tg.t.Errorf("target: listen again: %v", err)
				return
			}
			tg.serve(ln)
		}
	case tg.srv != nil:
		tg.srv.Close()
		tg.srv = nil
	}
}

func (tg *target) isUp() bool {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.srv != nil && !tg.fail
}

// err returns the first body that did not parse, as an error.
func (tg *target) err() error {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.bad
}

func (tg *target) handle(w http.ResponseWriter, r *http.Request) {
	tg.active.Add(1)
	defer tg.active.Add(-1)
	tg.mu.Lock()
	fail := tg.fail
	tg.mu.Unlock()
	if fail {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // cut: the daemon died or the target went down
	}
	var got []int64
	for line := range bytes.SplitSeq(body, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var ev struct {
			Raw string `json:"raw"`
		}
		err := json.Unmarshal(line, &ev)
		var seq int64
		if err == nil {
			seq, err = rawSeq([]byte(ev.Raw))
		}
		if err != nil {
			tg.mu.Lock()
			if tg.bad == nil {
				tg.bad = fmt.Errorf("target: bad line %q: %w", line, err)
			}
			tg.mu.Unlock()
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got = append(got, seq)
	}
	for _, seq := range got {
		tg.add(seq)
	}
	w.WriteHeader(http.StatusOK)
}

// replays returns how many records the spool in dir will deliver that
// make a duplicate: the records past its persisted read position whose
// event the destination already holds (delivered says which), or that
// repeat an event held by an earlier such record (a body spooled, not
// answered 200 before a kill and sent again while the destination was
// down). Read after a kill, with no sluiced running.
func replays(t *testing.T, dir string, delivered func(seq int64) bool) int {
	t.Helper()
	n := 0
	spooled := map[int64]bool{}
	spoolSeqs(t, dir, func(seq int64) {
		if delivered(seq) || spooled[seq] {
			n++
		}
		spooled[seq] = true
	})
	return n
}

// spoolSeqs calls visit with the seq of each record of the spool in dir
// past its persisted read position, in order. It may read a live spool: a
// record being written is left out.
func spoolSeqs(t *testing.T, dir string, visit func(seq int64)) {
	t.Helper()
	var bad error
	_, err := spool.Inspect(dir, func(_ uint64, _ time.Time, payload []byte) {
		var ev event.Event
		if err := event.DecodeRecord(payload, &ev); err != nil {
			bad = cmp.Or(bad, err)
			return
		}
		seq, err := quickSeq(ev.Raw)
		if err != nil {
			bad = cmp.Or(bad, err)
			return
		}
		visit(seq)
	})
	if err = cmp.Or(err, bad); err != nil {
		t.Fatalf("reading the spool %s: %v", dir, err)
	}
}

// quickSeq is rawSeq for the lines the senders write, {"seq":N,...},
// without decoding the JSON: a spool holds many thousands of them.
func quickSeq(raw []byte) (int64, error) {
	rest, ok := bytes.CutPrefix(raw, []byte(`{"seq":`))
	end := bytes.IndexByte(rest, ',')
	if !ok || end < 0 {
		return rawSeq(raw)
	}
	return strconv.ParseInt(string(rest[:end]), 10, 64)
}
