package daemon_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/builtin"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
)

// The example configs users copy must load with the built-in connectors.
func TestExamplesLoad(t *testing.T) {
	paths, _ := filepath.Glob("../examples/*.hujson")
	valid, _ := filepath.Glob("testdata/valid/*.hujson")
	paths = append(paths, valid...)
	if len(paths) == 0 {
		t.Fatal("no example configs found")
	}
	t.Setenv("HOOK_TOKEN", "example") // examples take secrets from the environment
	t.Setenv("KAFKA_PASSWORD", "example")
	t.Setenv("MQTT_PASSWORD", "example")
	t.Setenv("NATS_TOKEN", "example")
	t.Setenv("OTLP_TOKEN", "example")
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := daemon.Main([]string{"validate", "--config", p}, &out, &errOut, builtin.Registry()); code != 0 {
				t.Errorf("validate exit %d: %s", code, errOut.String())
			}
			if !strings.Contains(out.String(), ": ok (") {
				t.Errorf("validate printed %q", out.String())
			}
		})
	}
}

// Each broken config fails validate with exactly the messages in its .err
// file (-update rewrites them): every problem, each with its path, sorted
// by path, in one wording (see checkWording). Validate runs on a copy of
// testdata/invalid in a temporary directory: the configs keep the default
// dataDir, ./sluice-data, where a wasm handler makes its compilation
// cache.
func TestBrokenConfigs(t *testing.T) {
	src, err := filepath.Abs("testdata/invalid")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	if err := os.CopyFS(filepath.Join(tmp, "testdata", "invalid"), os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	t.Chdir(tmp)
	paths, _ := filepath.Glob("testdata/invalid/*.hujson")
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(p, ".hujson") + ".err")
			if err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			if code := daemon.Main([]string{"validate", "--config", p}, &out, &errOut, builtin.Registry()); code != 1 {
				t.Errorf("validate exit %d, want 1", code)
			}
			if *update {
				if err := os.WriteFile(filepath.Join(src, strings.TrimSuffix(filepath.Base(p), ".hujson")+".err"), errOut.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			} else if errOut.String() != string(want) {
				t.Errorf("validate said:\n%s\nwant:\n%s", errOut.String(), want)
			}
			checkWording(t, errOut.String())
		})
	}
}

func TestCommands(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"version"}, 0, "sluiced "},
		{[]string{"--help"}, 0, "sluiced run [[--config] FILE]"},
		{[]string{"run", "--help"}, 0, "Usage: sluiced run"},
		{[]string{"validate", "--help"}, 0, "Usage: sluiced validate"},
		{[]string{"validate"}, 2, "a config file is required"},
		{[]string{"validate", "--config", "testdata/nope.hujson"}, 1, "no such file"},
		{[]string{"validate", "--config", ""}, 2, "empty config file name"},
		{[]string{"validate", "../examples/syslog-forward.hujson"}, 0, ": ok ("},
		{[]string{"validate", "../examples/syslog-forward.hujson", "--config", "../examples/syslog-forward.hujson"}, 0, ": ok ("},
		{[]string{"validate", "--", "../examples/syslog-forward.hujson"}, 0, ": ok ("},
		{[]string{"validate", "a.hujson", "b.hujson"}, 2, `one config file, got 2: ["a.hujson" "b.hujson"]`},
		{[]string{"run", "a.hujson", "--log-level", "debug", "b.hujson"}, 2, `one config file, got 2`},
		{[]string{"run", "--config", "a.hujson", "b.hujson"}, 2, `two config files: --config "a.hujson" and "b.hujson"`},
		{[]string{"run", ""}, 2, "empty config file name"},
		{[]string{"run", "testdata/nope.hujson"}, 1, "testdata/nope.hujson: no such file"},
		{[]string{"spool", "inspect", "testdata/nope.hujson"}, 1, "testdata/nope.hujson: no such file"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{nil, 2, "Usage:"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			if code := daemon.Main(tc.args, &out, &out, builtin.Registry()); code != tc.code {
				t.Errorf("exit %d, want %d: %s", code, tc.code, out.String())
			}
			if !strings.Contains(out.String(), tc.out) {
				t.Errorf("output %q does not contain %q", out.String(), tc.out)
			}
		})
	}
}

// genConfig configures the test source "gen": Count numbered events, or
// events that never end if Count is 0.
type genConfig struct {
	Count int           `json:"count"`
	Block bool          `json:"block"` // after the lines, block instead of ending
	Lines []string      `json:"lines"`
	Token config.Secret `json:"token"`
}

// gen is a source that emits its lines (or "line N") and then io.EOF.
type gen struct {
	block bool
	name  string
	lines []string
	mu    sync.Mutex
	next  int
	acked *ackLog
}

type ackLog struct {
	mu sync.Mutex
	n  int
}

func (g *gen) Recv(ctx context.Context) (sluice.Message[event.Event], func(), error) {
	if err := ctx.Err(); err != nil {
		return sluice.Message[event.Event]{}, nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.next >= len(g.lines) {
		if g.block {
			g.mu.Unlock()
			<-ctx.Done()
			g.mu.Lock()
			return sluice.Message[event.Event]{}, nil, ctx.Err()
		}
		return sluice.Message[event.Event]{}, nil, io.EOF
	}
	l := g.lines[g.next]
	g.next++
	ev := event.Event{ReceivedAt: time.Now(), Source: g.name, SourceType: "gen", Raw: []byte(l)}
	return sluice.Message[event.Event]{Value: ev}, sluice.AckOnce(func() {
		g.acked.mu.Lock()
		g.acked.n++
		g.acked.mu.Unlock()
	}), nil
}

func testRegistry(acked *ackLog) *daemon.Registry {
	r := builtin.Registry()
	daemon.RegisterSource(r, "gen", "test events", func() *genConfig { return &genConfig{} },
		func(env daemon.Env, c *genConfig) (sluice.Source[event.Event], error) {
			lines := c.Lines
			for i := range c.Count {
				lines = append(lines, fmt.Sprintf("line %d", i))
			}
			if c.Token.Reveal() == "wrong" {
				return nil, errors.New("token rejected")
			}
			return &gen{name: env.Name, lines: lines, acked: acked, block: c.Block}, nil
		})
	return r
}

// readLines returns the JSON objects of the complete lines of the file at
// path.
func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Tests poll files a destination is writing: a batch may be half
	// written when read (a write is not atomic to a concurrent read), so
	// a last line without its newline is not read yet.
	b = b[:bytes.LastIndexByte(b, '\n')+1]
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return out
}

// A whole daemon in-process: two sources, routes with handlers, two file
// destinations; the sources end, everything is delivered and acked, and
// Run returns nil.
func TestRunRoutes(t *testing.T) {
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{
		"dataDir": %q,
		"sources": {
			"web": {"type": "gen", "lines": [
				"1.2.3.4 - - [24/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl\"",
				"1.2.3.4 - - [24/Nov/2026:10:00:01 +0000] \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"kube-probe\"",
				"1.2.3.4 - - [24/Nov/2026:10:00:02 +0000] \"POST /api HTTP/1.1\" 502 0 \"-\" \"curl\"",
				"not an access log line",
			]},
			"bulk": {"type": "gen", "count": 500},
		},
		"destinations": {
			"all":    {"type": "file", "path": %q},
			"errors": {"type": "file", "path": %q},
		},
		"routes": [
			{"from": ["web", "bulk"], "to": ["all"], "handlers": [{"type": "nginx"}, {"type": "drop", "if": "http.path == \"/healthz\""}]},
			{"from": ["web"], "to": ["errors"], "handlers": [{"type": "nginx"}, {"type": "keep", "if": "http.status >= 500"}]},
		],
	}`, dir, filepath.Join(dir, "all.ndjson"), filepath.Join(dir, "errors.ndjson"))
	acked := &ackLog{}
	d, err := daemon.New([]byte(cfg), testRegistry(acked), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := d.Run(ctx); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run did not end when its sources did")
	}
	all := readLines(t, filepath.Join(dir, "all.ndjson"))
	if len(all) != 503 {
		t.Errorf("all.ndjson holds %d events, want 500 + 3 (the health check dropped)", len(all))
	}
	errs := readLines(t, filepath.Join(dir, "errors.ndjson"))
	if len(errs) != 1 || errs[0]["http"].(map[string]any)["status"] != float64(502) {
		t.Errorf("errors.ndjson = %v, want the one 502", errs)
	}
	if acked.n != 504 {
		t.Errorf("%d events acked, want all 504 (filtered ones count as delivered)", acked.n)
	}
}

// Secrets never reach validate output or errors.
func TestSecretsStaySecret(t *testing.T) {
	t.Setenv("GEN_TOKEN", "hunter2-very-secret")
	dir := t.TempDir()
	path := filepath.Join(dir, "c.hujson")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, cfg := range []string{
		`{"sources": {"g": {"type": "gen", "token": "$GEN_TOKEN", "count": "x"}}, "destinations": {"o": {"type": "printer"}}}`,
		`{"sources": {"g": {"type": "gen", "token": 12345}}, "destinations": {"o": {"type": "printer"}}}`,
		`{"sources": {"g": {"type": "gen", "token": "hunter2-very-secret", "tokn": 1}}, "destinations": {"o": {"type": "printer"}}}`,
	} {
		write(cfg)
		var out bytes.Buffer
		code := daemon.Main([]string{"validate", "--config", path}, &out, &out, testRegistry(&ackLog{}))
		if code != 1 {
			t.Errorf("exit %d for a broken config: %s", code, out.String())
		}
		if strings.Contains(out.String(), "hunter2") || strings.Contains(out.String(), "12345") {
			t.Errorf("a secret leaked: %s", out.String())
		}
	}
	write(`{"sources": {"g": {"type": "gen", "token": "$UNSET_TOKEN_VAR"}}, "destinations": {"o": {"type": "printer"}}}`)
	var out bytes.Buffer
	daemon.Main([]string{"validate", "--config", path}, &out, &out, testRegistry(&ackLog{}))
	if !strings.Contains(out.String(), "sources.g.token: environment variable UNSET_TOKEN_VAR is not set") {
		t.Errorf("unset variable: %s", out.String())
	}
}

// The admin listener serves Prometheus metrics with the components'
// counters, and health and readiness.
func TestAdmin(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{
		"dataDir": %q,
		"admin": {"addr": %q},
		"sources": {"g": {"type": "gen", "count": 5, "block": true}},
		"destinations": {"out": {"type": "file", "path": %q, "batch": {"age": "10ms"}}},
		"routes": [{"from": ["g"], "to": ["out"], "handlers": [{"type": "drop", "if": "raw == \"line 0\""}]}],
	}`, dir, addr, filepath.Join(dir, "out.ndjson"))
	d, err := daemon.New([]byte(cfg), testRegistry(&ackLog{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(10 * time.Second)
	want := []string{
		`sluice_events_in_total{kind="source",name="g"} 5`,
		`sluice_dropped_total{cause="filter",kind="handler",name="routes[0].handlers[0]"} 1`,
		`sluice_acked_total{kind="destination",name="out"} 4`,
		`sluice_events_in_total{kind="destination",name="out"} 4`,
		`sluice_in_flight_events{kind="destination",name="out"} 0`,
		`sluice_events_in_total{kind="handler",name="routes[0].handlers[0]"} 5`,
		`sluice_events_out_total{kind="handler",name="routes[0].handlers[0]"} 4`,
		`sluice_batch_size_events_count{kind="destination",name="out"}`,
		`sluice_flush_duration_seconds_bucket{kind="destination",name="out",le=`,
		`go_goroutines`,
	}
	for {
		_, body := get("/metrics")
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q:\n%s", missing, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz = %d %q", code, body)
	}
	if code, _ := get("/debug/pprof/"); code != 404 {
		t.Errorf("pprof is served without being enabled: %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("the admin listener is still open after Run returned")
	}
}

type rejectConfig struct{}

// A permanently failing batch goes to the destination's dead letter and is
// then acked; with none, the daemon stops with the error.
func TestDeadLetter(t *testing.T) {
	r := testRegistry(&ackLog{})
	// "reject" fails every batch permanently and hands it to its dead
	// letter, as batching destinations do.
	daemon.RegisterDestination(r, "reject", "rejects everything", func() *rejectConfig { return &rejectConfig{} },
		func(env daemon.Env, _ *rejectConfig) (sluice.Destination[event.Event], error) {
			return batch.New(batch.Config{Count: 10, Age: 10 * time.Millisecond},
				batch.FlushFunc[event.Event](func(context.Context, []sluice.Message[event.Event]) error {
					return errors.New("HTTP 400: bad request")
				}), batch.WithDeadLetter(env.DeadLetter))
		})
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{
		"dataDir": %q,
		"sources": {"g": {"type": "gen", "count": 25}},
		"destinations": {
			"api": {"type": "reject", "deadLetter": "dlq"},
			"dlq": {"type": "file", "path": %q},
		},
		"routes": [{"from": ["g"], "to": ["api"]}],
	}`, dir, filepath.Join(dir, "dlq.ndjson"))
	d, err := daemon.New([]byte(cfg), r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(t.Context()); err != nil {
		t.Fatalf("Run = %v, want nil: the dead letter takes what the destination rejects", err)
	}
	if got := readLines(t, filepath.Join(dir, "dlq.ndjson")); len(got) != 25 {
		t.Errorf("dead-letter file holds %d events, want 25", len(got))
	}

	// Without a dead letter, the rejection stops the daemon with the error.
	cfg = strings.Replace(cfg, `"deadLetter": "dlq"`, ``, 1)
	cfg = strings.Replace(cfg, `"type": "reject", ,`, `"type": "reject",`, 1)
	d, err = daemon.New([]byte(cfg), r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "HTTP 400: bad request") {
		t.Errorf("Run = %v, want the rejection", err)
	}
}

// The http destination, given a 400 by its server, hands the batch to its
// dead letter, a file, and the events count as delivered.
func TestHTTP400GoesToTheDeadLetterFile(t *testing.T) {
	// Batches are cut by count or by age, so how many there are depends on
	// timing; a retry shows as a line posted twice.
	var mu sync.Mutex
	posted := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		for _, l := range strings.Split(strings.TrimSpace(string(body)), "\n") {
			var ev struct{ Raw string }
			if json.Unmarshal([]byte(l), &ev) == nil {
				posted[ev.Raw]++
			}
		}
		mu.Unlock()
		http.Error(w, "schema mismatch", http.StatusBadRequest)
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{
		"dataDir": %q,
		"sources": {"g": {"type": "gen", "count": 30}},
		"destinations": {
			"api": {"type": "http", "url": %q, "batch": {"count": 10, "age": "10ms"}, "deadLetter": "dlq"},
			"dlq": {"type": "file", "path": %q},
		},
		"routes": [{"from": ["g"], "to": ["api"]}],
	}`, dir, srv.URL+"/ingest?token=s3cr3t", filepath.Join(dir, "dlq.ndjson"))
	acked := &ackLog{}
	d, err := daemon.New([]byte(cfg), testRegistry(acked), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(t.Context()); err != nil {
		t.Fatalf("Run = %v", err)
	}
	got := readLines(t, filepath.Join(dir, "dlq.ndjson"))
	if len(got) != 30 || acked.n != 30 {
		t.Errorf("dead-letter file holds %d events and %d were acked, want 30 and 30", len(got), acked.n)
	}
	mu.Lock()
	for raw, n := range posted {
		if n != 1 {
			t.Errorf("%q posted %d times, want once: a 400 is not retried", raw, n)
		}
	}
	if len(posted) != 30 {
		t.Errorf("%d distinct events posted, want 30", len(posted))
	}
	mu.Unlock()
	for _, ev := range got {
		f, _ := ev["fields"].(map[string]any)
		if f["deadLetter.from"] != "api" || !strings.Contains(fmt.Sprint(f["deadLetter.error"]), "400") || strings.Contains(fmt.Sprint(f), "s3cr3t") {
			t.Fatalf("dead-lettered event fields = %v, want from api, the 400, and no secret", f)
		}
	}
}

// checkWording checks that each error line of validate's output is
// "sluiced: PATH: MSG" in the one wording of config errors: a field path,
// "want ..., got ..." rather than "must ..." or "expected ...", and one
// problem a line, not several joined with "; ".
func checkWording(t *testing.T, out string) {
	t.Helper()
	line := regexp.MustCompile(`^sluiced: ([a-zA-Z][\w-]*(?:\[\d+\])*(?:\.[\w-]+(?:\[\d+\])*)*): (.+)$`)
	joined := regexp.MustCompile(`; [a-zA-Z][\w.\[\]]*: `)
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if strings.HasPrefix(l, " | ") || strings.Contains(l, ".hujson:") {
			continue // an expression's caret lines; a syntax error's file:line:col
		}
		m := line.FindStringSubmatch(l)
		switch {
		case m == nil:
			t.Errorf("%q: want sluiced: PATH: MSG", l)
		case strings.HasPrefix(m[2], "must ") || strings.HasPrefix(m[2], "expected "):
			t.Errorf("%q: want \"want ..., got ...\"", l)
		case strings.HasPrefix(m[2], "want ") && !strings.Contains(m[2], ", got "):
			t.Errorf("%q: want ... without \", got ...\"", l)
		case joined.MatchString(m[2]):
			t.Errorf("%q: several problems on one line", l)
		}
	}
}
