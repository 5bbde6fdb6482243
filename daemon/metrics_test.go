package daemon_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEveryCounterMoves runs a daemon with each kind of component (a
// syslog source, the nginx and drop handlers, a file destination and one
// behind a disk buffer), sends it lines that parse, lines that do not and
// a line the route drops, and then reads /metrics: every sluice_ counter
// and histogram series on the page has moved, and the page holds each
// series the test expects, so that no series can be always 0 there. (The
// spool's own counters move only when a spool is damaged or full: see
// TestSpoolCollector and the spool and e2e tests named there.)
func TestEveryCounterMoves(t *testing.T) {
	dir := t.TempDir()
	adminAddr := freeAddr(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	syslogAddr := pc.LocalAddr().String()
	pc.Close()
	cfg := fmt.Sprintf(`{
		"dataDir": %q,
		"admin": {"addr": %q},
		"sources": {"sys": {"type": "syslog", "network": "udp", "addr": %q}},
		"destinations": {
			"out": {"type": "file", "path": %q, "batch": {"age": "5ms"}},
			"buf": {"type": "file", "path": %q, "batch": {"age": "5ms"}, "buffer": {"type": "disk"}},
		},
		"routes": [{"from": ["sys"], "to": ["out", "buf"], "handlers": [
			{"type": "nginx"},
			{"type": "drop", "if": "raw contains \"DROPME\""},
		]}],
	}`, dir, adminAddr, syslogAddr, filepath.Join(dir, "out.ndjson"), filepath.Join(dir, "buf.ndjson"))
	stop := start(t, cfg, testRegistry(&ackLog{}))
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	conn, err := net.Dial("udp", syslogAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	lines := []string{
		`<190>1 2026-11-24T10:00:00Z web nginx - - - 10.0.0.1 - - [24/Nov/2026:10:00:00 +0000] "GET /a?b=1 HTTP/1.1" 200 5 "-" "curl/8"`,
		`<190>1 2026-11-24T10:00:01Z web nginx - - - 10.0.0.1 - - [24/Nov/2026:10:00:01 +0000] "GET /b HTTP/1.1" 404 0 "-" "curl/8"`,
		`<190>1 2026-11-24T10:00:02Z web app - - - DROPME`, // parses as syslog, not as nginx; dropped
		`<999>not syslog`, // parses as neither
	}
	const delivered = 3 // all but the dropped line
	// Send until the destinations have them all: the source may not be
	// listening yet, and UDP may lose a datagram.
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, l := range lines {
			_, _ = conn.Write([]byte(l)) // refused until the source listens
		}
		time.Sleep(50 * time.Millisecond)
		page := scrapeAll(t, adminAddr)
		if page[`sluice_acked_total{kind="destination",name="out"}`] >= delivered &&
			page[`sluice_acked_total{kind="destination",name="buf"}`] >= delivered &&
			page[`sluice_acked_total{kind="buffer",name="buf"}`] >= delivered &&
			page[`sluice_acked_total{kind="source",name="sys"}`] >= float64(len(lines)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events not delivered: %v", page)
		}
	}

	page := scrapeAll(t, adminAddr)
	const nginx, drop = `routes[0].handlers[0]`, `routes[0].handlers[1]`
	want := []string{
		`sluice_events_in_total{kind="source",name="sys"}`, `sluice_bytes_in_total{kind="source",name="sys"}`,
		`sluice_acked_total{kind="source",name="sys"}`, `sluice_parse_failures_total{kind="source",name="sys"}`,
		`sluice_events_in_total{kind="handler",name="` + nginx + `"}`, `sluice_events_out_total{kind="handler",name="` + nginx + `"}`,
		`sluice_parse_failures_total{kind="handler",name="` + nginx + `"}`,
		`sluice_events_in_total{kind="handler",name="` + drop + `"}`, `sluice_events_out_total{kind="handler",name="` + drop + `"}`,
		`sluice_dropped_total{cause="filter",kind="handler",name="` + drop + `"}`,
	}
	for _, d := range []string{"out", "buf"} {
		for _, s := range []string{"events_in_total", "bytes_in_total", "events_out_total", "bytes_out_total", "acked_total",
			"batch_size_events_count", "batch_size_events_sum", "flush_duration_seconds_count", "flush_duration_seconds_sum"} {
			want = append(want, `sluice_`+s+`{kind="destination",name="`+d+`"}`)
		}
	}
	for _, s := range []string{"events_in_total", "bytes_in_total", "events_out_total", "bytes_out_total", "acked_total"} {
		want = append(want, `sluice_`+s+`{kind="buffer",name="buf"}`)
	}
	want = append(want, `sluice_spool_fsyncs_total{buffer="buf"}`, `sluice_spool_fsync_duration_seconds_count{buffer="buf"}`)
	for _, s := range want {
		if page[s] <= 0 {
			t.Errorf("%s = %v, want it to have moved", s, page[s])
		}
	}
	for s, v := range page {
		moves := strings.HasSuffix(s[:strings.IndexAny(s+"{", "{")], "_total") || strings.Contains(s, "_count{") || strings.Contains(s, "_sum{")
		if !moves || strings.HasPrefix(s, "sluice_spool_") && !strings.Contains(s, "fsync") || strings.HasPrefix(s, "sluice_reloads_total") {
			continue // gauges, histogram buckets, the spool's damage counters, and reloads (TestReload moves both)
		}
		if v == 0 {
			t.Errorf("%s is on /metrics and is 0", s)
		}
	}
	if t.Failed() {
		t.Logf("/metrics: %v", page)
	}
}

// scrapeAll returns every sluice_ series on the admin listener at addr.
func scrapeAll(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "sluice_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		page[line[:i]] = v
	}
	return page
}
