package e2e

import (
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

	"github.com/sluicehq/sluice/connector/loki/lokitest"
)

// TestLokiKill runs 10,000 lines from a file through sluiced into Loki
// (the in-test one, or the real one SLUICE_LOKI_URL names) and kills
// sluiced (SIGKILL) twice at the moments a proxy between them picks: once
// when Loki has answered 204 to a push and sluiced has not read it (the
// entries are stored, not acked), once while a push is on its way. After
// the last restart every line must be in Loki (0 missing); lines pushed
// again are counted (lines from a file carry the time sluice read them,
// so a line read again after a restart is a new entry to Loki).
func TestLokiKill(t *testing.T) {
	lokiURL := os.Getenv("SLUICE_LOKI_URL")
	if lokiURL == "" {
		lokiURL = lokitest.Start(t).URL
	}
	target, _ := url.Parse(lokiURL)
	var mu sync.Mutex
	var cur *daemon
	pushes := 0
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
		mu.Lock()
		pushes++
		n := pushes
		mu.Unlock()
		if n == 9 {
			kill(fmt.Sprintf("push %d in flight", n))
			return nil, fmt.Errorf("killed")
		}
		resp, err := http.DefaultTransport.RoundTrip(r)
		if n == 4 && err == nil && resp.StatusCode == http.StatusNoContent {
			kill(fmt.Sprintf("push %d stored, its 204 not yet read", n))
		}
		return resp, err
	})
	ps := httptest.NewServer(proxy)
	defer ps.Close()

	dir := t.TempDir()
	const n = 10000
	run := fmt.Sprintf("e2e-%d", time.Now().UnixNano())
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "seq=%06d level=info msg=\"user logged in\" ünïcödé %s\n", i, strings.Repeat("y", i%40))
	}
	logPath := filepath.Join(dir, "app.log")
	if err := os.WriteFile(logPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	start0 := time.Now()
	config := fmt.Sprintf(`{
		"dataDir": %q,
		"shutdownTimeout": "10s",
		"sources": {"log": {"type": "file", "paths": [%q], "startAt": "beginning", "pollInterval": "20ms", "checkpointInterval": "50ms"}},
		"destinations": {"loki": {"type": "loki", "url": %q, "labels": {"job": "sluice-e2e", "run": %q, "source": "{source}"},
			"batch": {"count": 500, "age": "50ms"}}},
	}`, filepath.Join(dir, "data"), logPath, ps.URL, run)

	for range 2 {
		d := start(t, dir, config)
		mu.Lock()
		cur = d
		mu.Unlock()
		select {
		case why := <-killed:
			err := <-d.done
			d.done <- err
			t.Logf("SIGKILL: %s", why)
		case <-time.After(60 * time.Second):
			t.Fatalf("sluiced was not killed: %d pushes so far", pushes)
		}
	}
	d := start(t, dir, config)
	// A read of the file stamps its lines with one instant, and Loki
	// returns at most 5000 entries per query: read by thousands.
	read := func() map[string]int {
		seen := map[string]int{}
		for k := range n / 1000 {
			es, err := lokitest.Query(lokiURL, "", fmt.Sprintf(`{job="sluice-e2e", run=%q} |= "seq=%03d"`, run, k), start0.Add(-time.Minute), time.Now().Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				seen[e.Line]++
			}
		}
		return seen
	}
	waitForLong(t, "every line in Loki", 60*time.Second, func() bool { return len(read()) == n })
	d.stop(t)
	seen := read()
	missing, copies := 0, 0
	for i := range n {
		line := fmt.Sprintf("seq=%06d level=info msg=\"user logged in\" ünïcödé %s", i, strings.Repeat("y", i%40))
		if seen[line] == 0 {
			missing++
		}
		copies += max(seen[line]-1, 0)
	}
	if missing > 0 || len(seen) != n {
		t.Errorf("%d of %d lines missing (%d distinct lines in Loki)", missing, n, len(seen))
	}
	t.Logf("%d lines, 2 SIGKILLs: %d missing, %d pushed again; %d pushes through the proxy", n, missing, copies, pushes)
}
