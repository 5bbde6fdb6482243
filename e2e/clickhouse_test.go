package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/clickhouse/clickhousetest"
)

// TestClickHouseKill runs 20,000 lines from a file through sluiced into a
// real clickhouse-server and kills sluiced (SIGKILL) twice, at the two
// moments that can lose or duplicate an INSERT, made on purpose by a
// proxy between them: once when ClickHouse has answered 200 to an INSERT
// and sluiced has not yet read the answer (the rows are stored, not
// acked), and once while an INSERT is on its way to ClickHouse. After the
// last restart every line must be in the table, its raw column byte for
// byte the line written; duplicates (the first kill makes some) are
// counted. A second destination inserts into a table that does not exist:
// its batches go to its dead letter with ClickHouse's message, and the
// pipeline keeps going.
func TestClickHouseKill(t *testing.T) {
	srv := clickhousetest.Start(t)
	srv.MustQuery(t, "CREATE TABLE logs (ts DateTime, receivedAt DateTime, source String, raw String) ENGINE = MergeTree ORDER BY ts")
	target, _ := url.Parse(srv.URL)

	var mu sync.Mutex
	var cur *daemon
	var inserts int
	killed := make(chan string, 2)
	kill := func(why string) {
		mu.Lock()
		d := cur
		cur = nil
		mu.Unlock()
		if d != nil {
			_ = d.cmd.Process.Kill()
			killed <- why
		}
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if !strings.Contains(r.URL.Query().Get("query"), "INSERT INTO default.logs ") {
			return http.DefaultTransport.RoundTrip(r)
		}
		mu.Lock()
		inserts++
		n := inserts
		mu.Unlock()
		if n == 12 { // second kill: the INSERT is in flight, ClickHouse has not seen it
			kill(fmt.Sprintf("INSERT %d in flight", n))
			return nil, fmt.Errorf("killed")
		}
		resp, err := http.DefaultTransport.RoundTrip(r)
		if n == 6 && err == nil && resp.StatusCode == http.StatusOK { // first kill: stored, not acked
			kill(fmt.Sprintf("INSERT %d stored, its 200 not yet read", n))
		}
		return resp, err
	})
	ps := httptest.NewServer(proxy)
	defer ps.Close()

	dir := t.TempDir()
	const n = 20000
	logPath := filepath.Join(dir, "app.log")
	want := make(map[string]bool, n)
	var b strings.Builder
	for i := range n {
		line := fmt.Sprintf("seq=%06d \"quoted\" back\\slash\ttab ünïcödé {\"json\": [1, 2]} %s", i, strings.Repeat("x", i%50))
		want[line] = true
		b.WriteString(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(logPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	rejected := filepath.Join(dir, "rejected.ndjson")
	config := fmt.Sprintf(`{
		"dataDir": %q,
		"shutdownTimeout": "10s",
		"sources": {"log": {"type": "file", "paths": [%q], "startAt": "beginning", "pollInterval": "20ms", "checkpointInterval": "50ms"}},
		"destinations": {
			"ch": {"type": "clickhouse", "url": %q, "table": "logs", "idleTimeout": "1s",
				"batch": {"count": 500, "age": "50ms", "parallelism": 2}},
			"bad": {"type": "clickhouse", "url": %q, "table": "missing", "deadLetter": "rejected",
				"batch": {"count": 500, "age": "50ms"}},
			"rejected": {"type": "file", "path": %q, "batch": {"age": "20ms"}},
		},
		"routes": [{"from": ["log"], "to": ["ch", "bad"]}],
	}`, filepath.Join(dir, "data"), logPath, ps.URL, srv.URL, rejected)

	for range 2 {
		d := start(t, dir, config)
		mu.Lock()
		cur = d
		mu.Unlock()
		select {
		case why := <-killed:
			err := <-d.done
			d.done <- err
			t.Logf("SIGKILL: %s; %s rows in the table", why, strings.TrimSpace(srv.MustQuery(t, "SELECT count() FROM logs")))
		case <-time.After(60 * time.Second):
			t.Fatalf("sluiced was not killed: %d INSERTs so far", inserts)
		}
	}
	d := start(t, dir, config)
	deadline := time.Now().Add(90 * time.Second)
	for strings.TrimSpace(srv.MustQuery(t, "SELECT uniqExact(raw) FROM logs")) != fmt.Sprint(n) {
		if time.Now().After(deadline) {
			t.Fatalf("after 90s the table holds %s distinct lines of %d", srv.MustQuery(t, "SELECT uniqExact(raw) FROM logs"), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitForLong(t, "the dead letter to hold every line", 60*time.Second, func() bool { return len(deadLettered(t, rejected)) == n })
	d.stop(t)

	out := srv.MustQuery(t, "SELECT raw, source FROM logs FORMAT JSONEachRow")
	seen := map[string]int{}
	rows := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct{ Raw, Source string }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("row %q: %v", sc.Text(), err)
		}
		rows++
		if !want[r.Raw] {
			t.Errorf("row %q is not a line that was written (altered?)", r.Raw)
		}
		if r.Source != "log" {
			t.Errorf("row source %q, want log", r.Source)
		}
		seen[r.Raw]++
	}
	missing := 0
	for line := range want {
		if seen[line] == 0 {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d lines missing from ClickHouse after 2 SIGKILLs", missing, n)
	}
	t.Logf("%d lines, 2 SIGKILLs: %d rows, %d missing, %d duplicates; %d INSERTs through the proxy", n, rows, missing, rows-len(seen), inserts)
}

// deadLettered returns the raw lines in the dead-letter file, failing t
// on any whose error is not ClickHouse's unknown table (code 60). A line
// cut short by a SIGKILL is skipped: its event was not acked.
func deadLettered(t *testing.T, path string) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		var e struct {
			Raw    string
			Fields map[string]string
		}
		if json.Unmarshal([]byte(line), &e) != nil {
			continue
		}
		if msg := e.Fields["deadLetter.error"]; !strings.Contains(msg, "Code: 60") || !strings.Contains(msg, "missing") {
			t.Fatalf("dead letter error %q, want ClickHouse's unknown table (code 60); line %s", msg, line)
		}
		got[e.Raw] = true
	}
	return got
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
