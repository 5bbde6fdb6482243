package daemon_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/daemon"
)

const tapToken = "s3cr3t-t0ken-4711"

// topConfig runs an http source "web" through route "main", which drops
// lines holding DROPME, to the file destination "out"; and a source
// "stuck" of 5 events through route "hold" to a disk buffer in front of
// a destination that never acks them.
func topConfig(t *testing.T, tap bool) (cfg, admin, web string) {
	dir := t.TempDir()
	admin, web = freeAddr(t), freeAddr(t)
	cfg = fmt.Sprintf(`{
		"dataDir": %q,
		"admin": {"addr": %q, "tap": %t},
		"sources": {
			"web": {"type": "http", "addr": %q, "bearerToken": %q},
			"stuck": {"type": "gen", "count": 5, "block": true},
		},
		"destinations": {
			"out": {"type": "file", "path": %q, "batch": {"age": "5ms"}},
			"held": {"type": "hold", "buffer": {"type": "disk"}},
		},
		"routes": [
			{"name": "main", "from": ["web"], "to": ["out"], "handlers": [{"type": "drop", "if": "raw contains \"DROPME\""}]},
			{"name": "hold", "from": ["stuck"], "to": ["held"]},
		],
	}`, dir, admin, tap, web, tapToken, filepath.Join(dir, "out.ndjson"))
	return cfg, admin, web
}

// post sends lines to the http source at addr in one request and waits
// for its 200 (every line acked).
func post(t *testing.T, addr string, lines []string) {
	t.Helper()
	var resp *http.Response
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader(strings.Join(lines, "\n")+"\n"))
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Authorization", "Bearer "+tapToken)
		var err error
		if resp, err = http.DefaultClient.Do(req); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("POST: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // not listening yet
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST: %s", resp.Status)
	}
}

func lines(n int, f func(i int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

// topTable runs "sluiced top --once" and returns its rows by component,
// each a map of column to cell.
func topTable(t *testing.T, args ...string) map[string]map[string]string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := daemon.Main(append([]string{"top", "--once"}, args...), &stdout, &stderr, testRegistry(&ackLog{})); code != 0 {
		t.Fatalf("top = %d: %s", code, stderr.String())
	}
	t.Logf("top --once:\n%s", stdout.String())
	rows := map[string]map[string]string{}
	var head []string
	for _, l := range strings.Split(stdout.String(), "\n")[2:] {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if head == nil {
			head = f
			continue
		}
		if len(f) != len(head) {
			t.Fatalf("row %q has %d columns, the head %d", l, len(f), len(head))
		}
		rows[f[0]] = map[string]string{}
		for i, h := range head {
			rows[f[0]][h] = f[i]
		}
	}
	return rows
}

// TestTopOnce runs a daemon, pushes 100 lines (10 of which the route
// drops) and checks top --once's figures for every component; then pushes
// 50 lines while top samples and checks the rate it shows.
func TestTopOnce(t *testing.T) {
	cfg, admin, web := topConfig(t, false)
	h := &hold{}
	stop := start(t, cfg, bufferRegistry(&ackLog{}, h))
	defer func() { _ = stop() }()
	post(t, web, lines(100, func(i int) string {
		if i%10 == 0 {
			return "DROPME " + strconv.Itoa(i)
		}
		return "line " + strconv.Itoa(i)
	}))
	for { // the stuck source's events reach held
		h.mu.Lock()
		got := h.got
		h.mu.Unlock()
		if got == 5 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	rows := topTable(t, "--addr", admin, "--interval", "100ms")
	want := map[string]map[string]string{
		"source/web":                    {"IN": "100", "ACKED": "100", "DEPTH": "0", "ERRORS": "0", "OUT": "-", "LAG": "-"},
		"source/stuck":                  {"IN": "5", "ACKED": "5", "DEPTH": "0"},
		"buffer/held":                   {"IN": "5", "ACKED": "5", "DEPTH": "5"},
		"route/main":                    {"IN": "100", "OUT": "90", "ACKED": "-", "DEPTH": "-"},
		"route/hold":                    {"IN": "5", "OUT": "5"},
		"destination/out":               {"IN": "90", "OUT": "90", "ACKED": "90", "DEPTH": "0", "ERRORS": "0"},
		"destination/held":              {"IN": "5", "ACKED": "0", "DEPTH": "5"},
		"handler/routes[0].handlers[0]": {"IN": "100", "OUT": "90"},
	}
	if lag, err := time.ParseDuration(rows["buffer/held"]["LAG"]); err != nil || lag <= 0 {
		t.Errorf("buffer/held LAG = %q, want the age of its oldest record", rows["buffer/held"]["LAG"])
	}
	for comp, cols := range want {
		for col, v := range cols {
			if got := rows[comp][col]; got != v {
				t.Errorf("%s %s = %q, want %q", comp, col, got, v)
			}
		}
		if rows[comp]["IN/s"] != "0.0" {
			t.Errorf("%s IN/s = %q with nothing sent, want 0.0", comp, rows[comp]["IN/s"])
		}
	}

	// 50 lines while top samples 2s apart: a rate of 50 over at least 2s.
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(300 * time.Millisecond)
		post(t, web, lines(50, func(i int) string { return "more " + strconv.Itoa(i) }))
	})
	rows = topTable(t, "--addr", admin, "--interval", "2s")
	wg.Wait()
	if r, err := strconv.ParseFloat(rows["source/web"]["IN/s"], 64); err != nil || r <= 0 || r > 25 {
		t.Errorf("source/web IN/s = %q, want 50 lines over 2s or more: in (0, 25]", rows["source/web"]["IN/s"])
	}
	if rows["source/web"]["IN/s"] != rows["destination/out"]["IN/s"] {
		t.Errorf("IN/s: source %s, destination %s: want the same, nothing was dropped", rows["source/web"]["IN/s"], rows["destination/out"]["IN/s"])
	}
}

func TestTopNoDaemon(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := daemon.Main([]string{"top", "--once", "--addr", freeAddr(t)}, &stdout, &stderr, testRegistry(&ackLog{})); code != 1 {
		t.Errorf("top with nothing listening = %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "cannot reach the admin listener") {
		t.Errorf("stderr = %q", stderr.String())
	}
}

// tapLines reads GET /tap for d, returning the events and the skipped
// counts it reported.
func tapFor(t *testing.T, admin, query string, d time.Duration) (events []map[string]any, skipped int64, elapsed time.Duration) {
	t.Helper()
	began := time.Now()
	resp, err := http.Get("http://" + admin + "/tap?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /tap?%s: %s", query, resp.Status)
	}
	time.AfterFunc(d, func() { resp.Body.Close() })
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var l struct {
			Event   map[string]any `json:"event"`
			Skipped int64          `json:"skipped"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		if l.Event != nil {
			events = append(events, l.Event)
		}
		skipped += l.Skipped
	}
	return events, skipped, time.Since(began)
}

// TestTap taps a source and a route while lines flow: the route shows
// only what its handler passes, no more events than the rate allows, the
// rest reported as skipped, and the source's bearer token masked in an
// event that carries it.
func TestTap(t *testing.T) {
	cfg, admin, web := topConfig(t, true)
	stop := start(t, cfg, bufferRegistry(&ackLog{}, &hold{}))
	defer func() { _ = stop() }()
	post(t, web, []string{"warm up"})

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			post(t, web, lines(20, func(j int) string {
				if j%2 == 0 {
					return fmt.Sprintf("DROPME %d.%d", i, j)
				}
				return fmt.Sprintf("line %d.%d token=%s", i, j, tapToken)
			}))
		}
	})
	defer wg.Wait()
	defer close(done)

	const rate = 5
	var route, src []map[string]any
	var skipped int64
	var elapsed time.Duration
	var tw sync.WaitGroup
	tw.Go(func() {
		route, skipped, elapsed = tapFor(t, admin, "point=main&rate="+strconv.Itoa(rate), 2*time.Second)
	})
	tw.Go(func() { src, _, _ = tapFor(t, admin, "point=source:web&rate=100", 2*time.Second) })
	tw.Wait()

	if max := 1 + rate*elapsed.Seconds(); len(route) == 0 || float64(len(route)) > max {
		t.Errorf("route tap: %d events in %v at %d/s, want 1 to %.0f", len(route), elapsed, rate, max)
	}
	if skipped == 0 {
		t.Errorf("route tap: no event reported skipped at %d/s while 10 lines a request passed", rate)
	}
	sawDrop := false
	for i, evs := range [][]map[string]any{route, src} {
		for _, e := range evs {
			raw, _ := e["raw"].(string)
			if strings.Contains(raw, tapToken) || !strings.HasPrefix(raw, "line ") && !strings.HasPrefix(raw, "DROPME ") && raw != "warm up" {
				t.Errorf("tapped event raw %q: want a line sent, with the token masked", raw)
			}
			if strings.HasPrefix(raw, "line ") && !strings.HasSuffix(raw, "token=REDACTED") {
				t.Errorf("tapped event raw %q: want the token REDACTED", raw)
			}
			switch {
			case i == 0 && strings.HasPrefix(raw, "DROPME"):
				t.Errorf("route tap showed %q, which its handler drops", raw)
			case strings.HasPrefix(raw, "DROPME"):
				sawDrop = true
			}
		}
	}
	if !sawDrop {
		t.Error("source tap showed no DROPME line: want what the source received, before the route's handler")
	}

	// The command line: three events, then exit 0.
	var stdout, stderr bytes.Buffer
	if code := daemon.Main([]string{"tap", "--addr", admin, "--count", "3", "--rate", "100", "route:main"}, &stdout, &stderr, testRegistry(&ackLog{})); code != 0 {
		t.Fatalf("tap = %d: %s", code, stderr.String())
	}
	if n := strings.Count(stdout.String(), "\n"); n != 3 {
		t.Errorf("tap --count 3 printed %d lines: %s", n, stdout.String())
	}

	// Refusals: unknown point, rate over the bound, too many clients.
	for q, code := range map[string]int{"point=nope": 404, "point=main&rate=101": 400, "point=main&rate=0": 400} {
		resp, err := http.Get("http://" + admin + "/tap?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != code {
			t.Errorf("GET /tap?%s: %s, want %d", q, resp.Status, code)
		}
	}
	var open []*http.Response
	for range 4 {
		resp, err := http.Get("http://" + admin + "/tap?point=main")
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, resp)
	}
	resp, err := http.Get("http://" + admin + "/tap?point=main")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a fifth tap: %s, want 429", resp.Status)
	}
	for _, r := range open {
		r.Body.Close()
	}
}

// TestTapOff: without admin.tap, /tap answers 403 and the command says
// how to turn it on.
func TestTapOff(t *testing.T) {
	cfg, admin, web := topConfig(t, false)
	stop := start(t, cfg, bufferRegistry(&ackLog{}, &hold{}))
	defer func() { _ = stop() }()
	post(t, web, []string{"x"}) // running
	var stdout, stderr bytes.Buffer
	if code := daemon.Main([]string{"tap", "--addr", admin, "web"}, &stdout, &stderr, testRegistry(&ackLog{})); code != 1 {
		t.Errorf("tap = %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "403") || !strings.Contains(stderr.String(), `"tap": true`) {
		t.Errorf("stderr = %q, want the 403 and how to allow tap", stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", stdout.String())
	}
}
