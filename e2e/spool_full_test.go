package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/tmpfstest"
)

// fullSink is the HTTP server behind the disk buffer: down (503) or up,
// it counts the event lines it took.
type fullSink struct {
	mu  sync.Mutex
	up  bool
	got map[string]int
}

func (s *fullSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	up := s.up
	s.mu.Unlock()
	if !up {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	sc := bufio.NewScanner(r.Body)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	s.mu.Lock()
	for _, l := range lines {
		s.got[l]++
	}
	s.mu.Unlock()
}

func (s *fullSink) setUp(up bool) { s.mu.Lock(); s.up = up; s.mu.Unlock() }

// missing returns the acked events the sink has not taken.
func (s *fullSink) missing(acked map[string]bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for l := range acked {
		if s.got[l] == 0 {
			n++
		}
	}
	return n
}

// fullSender posts bodies of numbered events to the http source and keeps
// the events of every request answered 200.
type fullSender struct {
	t     *testing.T
	url   string
	next  int
	acked map[string]bool
}

// post sends one body of 10 events and returns the status.
func (p *fullSender) post() int {
	p.t.Helper()
	var body strings.Builder
	var ids []string
	for range 10 {
		id := fmt.Sprintf("ev-%08d-%0180d", p.next, 0)
		p.next++
		ids = append(ids, id)
		body.WriteString(id + "\n")
	}
	resp, err := http.Post(p.url, "text/plain", strings.NewReader(body.String()))
	if err != nil {
		p.t.Fatalf("POST: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		for _, id := range ids {
			p.acked[id] = true
		}
	case http.StatusServiceUnavailable:
		if ra := resp.Header.Get("Retry-After"); ra == "" {
			p.t.Error("503 without Retry-After")
		}
	default:
		p.t.Fatalf("POST: status %d", resp.StatusCode)
	}
	return resp.StatusCode
}

// until posts until a request gets status, for at most d, and returns how
// long it took.
func (p *fullSender) until(status int, d time.Duration) time.Duration {
	p.t.Helper()
	start := time.Now()
	for p.post() != status {
		if time.Since(start) > d {
			p.t.Fatalf("no %d within %v", status, d)
		}
	}
	return time.Since(start)
}

// adminGet returns the status and body of path on the admin listener.
func adminGet(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metricValue returns the value of series in a /metrics page, or -1.
func metricValue(page, series string) float64 {
	for l := range strings.SplitSeq(page, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// TestSpoolFileSystemFull puts a disk buffer on a 1 MiB tmpfs behind the
// http source, with the destination down, so that the spool fills its
// file system (ENOSPC). sluiced stays up: the source answers 503 with
// Retry-After, /readyz and /metrics say the file system is full, and once
// a filler file is deleted it takes events again. Then, with the spool
// holding acked events and the file system full again, sluiced is stopped
// and restarted while still full: it drains the spool to the destination.
// No event answered 200 is missing at the end.
func TestSpoolFileSystemFull(t *testing.T) {
	mnt := tmpfstest.Mount(t, 1<<20)
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 256<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	sink := &fullSink{got: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: sink}
	go srv.Serve(ln)
	defer srv.Close()

	dir := t.TempDir()
	httpPort, adminPort := freePort(t), freePort(t)
	admin := fmt.Sprintf("127.0.0.1:%d", adminPort)
	config := fmt.Sprintf(`{
		"dataDir": %q,
		"shutdownTimeout": "3s",
		"admin": {"addr": %q},
		"sources": {"in": {"type": "http", "addr": "127.0.0.1:%d", "format": "lines", "requestTimeout": "1s", "maxBodyBytes": 16384}},
		"destinations": {"out": {"type": "http", "url": "http://%s/", "format": "raw", "batch": {"age": "20ms"},
			"buffer": {"type": "disk", "dir": %q, "maxBytes": 67108864, "segmentBytes": 65536}}},
	}`, dir, admin, httpPort, ln.Addr(), filepath.Join(mnt, "spool"))
	d := start(t, dir, config)
	p := &fullSender{t: t, url: fmt.Sprintf("http://127.0.0.1:%d/", httpPort), acked: map[string]bool{}}

	took := p.until(http.StatusServiceUnavailable, 60*time.Second)
	t.Logf("file system full after %d events acked (%v)", len(p.acked), took.Round(time.Millisecond))
	waitFor(t, "/readyz to say the file system is full", func() bool {
		code, body := adminGet(t, admin, "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "file system is full")
	})
	_, page := adminGet(t, admin, "/metrics")
	if v := metricValue(page, `sluice_spool_no_space{buffer="out"}`); v != 1 {
		t.Errorf("sluice_spool_no_space = %v, want 1", v)
	}
	if v := metricValue(page, `sluice_spool_no_space_writes_total{buffer="out"}`); v < 1 {
		t.Errorf("sluice_spool_no_space_writes_total = %v, want some", v)
	}
	if !strings.Contains(d.logs.String(), "file system full") {
		t.Error("no log line says the file system is full")
	}
	for range 3 { // still full: still refused, still up
		if code := p.post(); code != http.StatusServiceUnavailable {
			t.Fatalf("status %d with the file system full", code)
		}
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	p.until(http.StatusOK, 15*time.Second)
	t.Logf("events taken again %v after the filler was deleted", time.Since(freed).Round(time.Millisecond))
	sink.setUp(true)
	waitFor(t, "every acked event at the destination", func() bool { return sink.missing(p.acked) == 0 })
	waitFor(t, "/readyz to be 200 again", func() bool { code, _ := adminGet(t, admin, "/readyz"); return code == http.StatusOK })

	// The restart on a full file system: the spool holds acked events
	// the destination has not taken, and the file system is full.
	sink.setUp(false)
	for range 20 {
		if code := p.post(); code != http.StatusOK {
			t.Fatalf("status %d before the file system was filled again", code)
		}
	}
	tmpfstest.Fill(t, filler)
	p.until(http.StatusServiceUnavailable, 30*time.Second)
	held := sink.missing(p.acked)
	if held == 0 {
		t.Fatal("the spool holds no acked event: the restart would prove nothing")
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		d.done <- err // for start's cleanup
		t.Logf("stopped with the file system full: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("sluiced did not exit after SIGTERM")
	}
	sink.setUp(true)
	d = start(t, dir, config)
	waitFor(t, "the restarted sluiced to deliver what the spool held", func() bool { return sink.missing(p.acked) == 0 })
	t.Logf("restart on a full file system delivered the %d acked events the spool held", held)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	p.until(http.StatusOK, 15*time.Second)
	waitFor(t, "every acked event at the destination", func() bool { return sink.missing(p.acked) == 0 })
	d.stop(t)
	dups := 0
	for _, n := range sink.got {
		dups += n - 1
	}
	t.Logf("%d events acked, 0 missing, %d duplicates", len(p.acked), dups)
}
