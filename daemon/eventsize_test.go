package daemon_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An event larger than a disk buffer's spool takes (from a source that
// declares no bound) is neither dropped nor acked before it is written:
// it goes around the spool, straight to the destination, and its source's
// ack comes once the destination wrote it; the events around it are
// spooled as usual. It is counted.
func TestEventTooLargeForTheSpoolGoesAround(t *testing.T) {
	dir := t.TempDir()
	adminAddr := freeAddr(t)
	big := strings.Repeat("x", 40000) // a spool of 16 KiB segments holds records of 16360 bytes
	out := filepath.Join(dir, "out.ndjson")
	cfg := fmt.Sprintf(`{
		"dataDir": %q,
		"admin": {"addr": %q},
		"sources": {"g": {"type": "gen", "block": true, "lines": ["small 1", %q, "small 2"]}},
		"destinations": {"out": {"type": "file", "path": %q, "batch": {"age": "5ms"},
			"buffer": {"type": "disk", "maxBytes": 65536, "segmentBytes": 16384}}},
	}`, dir, adminAddr, big, out)
	acked := &ackLog{}
	stop := start(t, cfg, testRegistry(acked))
	deadline := time.Now().Add(10 * time.Second)
	for {
		acked.mu.Lock()
		n := acked.n
		acked.mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 3 events acked", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got, ok := scrape(adminAddr, `sluice_errors_total{cause="tooLarge",kind="buffer",name="out"}`); !ok || got != 1 {
		t.Errorf("tooLarge errors = %v (%v), want 1", got, ok)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	raws := map[string]bool{}
	for _, l := range readLines(t, out) {
		raws[l["raw"].(string)] = true
	}
	for _, want := range []string{"small 1", big, "small 2"} {
		if !raws[want] {
			t.Errorf("%.20q... is not in the file", want)
		}
	}
}

// Events too large at their source, with a real disk buffer behind it
// (16 KiB-line sources in front of 64 KiB segments, which validate
// accepts), and events a handler grows past the spool's record:
//
//   - http: a body over maxBodyBytes gets 413 and nothing of it reaches
//     the buffer; the next request is delivered.
//   - syslog over TCP: a message over maxMessageBytes is cut to it,
//     flagged "truncated" and counted (errors, cause "oversized"); the
//     connection carries on and the next message arrives whole.
//   - file: a line over maxLineBytes arrives in pieces of maxLineBytes,
//     all but the last flagged "split", every byte in order.
//   - a handler grows an event past the spool's record: with the route's
//     deadLetter, it goes there with the reason, and the request's 200
//     comes only once the dead letter holds it; without one, it goes
//     around the spool and the 200 comes only once the destination holds
//     it. Counted either way.
func TestEventsTooLarge(t *testing.T) {
	const (
		segment = 65536
		limit   = 16384
	)
	grow := `"handlers": [{"type": "remap", "expr": "{\"pad\": raw == \"grow\" ? repeat(\"x\", 100000) : nil}"}]`
	type env struct {
		dir, in, out, dlq, admin string
	}
	post := func(t *testing.T, e env, body string) int {
		t.Helper()
		resp, err := http.Post("http://"+e.in+"/", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	// events waits until the file at path holds n events and returns them.
	events := func(t *testing.T, path string, n int) []map[string]any {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := os.Stat(path); err == nil {
				if got := readLines(t, path); len(got) >= n {
					return got
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not hold %d events within 10s", path, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	raw := func(ev map[string]any) string { s, _ := ev["raw"].(string); return s }
	flags := func(ev map[string]any) string { return fmt.Sprint(ev["flags"]) }
	tooLarge := func(t *testing.T, e env, want float64) {
		t.Helper()
		if got, ok := scrape(e.admin, `sluice_errors_total{cause="tooLarge",kind="buffer",name="out"}`); got != want || (want > 0 && !ok) {
			t.Errorf("tooLarge errors = %v, want %v", got, want)
		}
	}

	for _, tc := range []struct {
		name   string
		source string // the source "in"; %[1]q is the listen address, %[2]q the data dir
		route  string // more of the route, after "from" and "to"
		run    func(t *testing.T, e env)
	}{{
		name:   "http body over maxBodyBytes",
		source: `{"type": "http", "addr": %[1]q, "format": "lines", "maxBodyBytes": 16384}`,
		run: func(t *testing.T, e env) {
			if code := post(t, e, strings.Repeat("b", limit+1)); code != http.StatusRequestEntityTooLarge {
				t.Fatalf("a body of maxBodyBytes+1 got %d, want 413", code)
			}
			if code := post(t, e, "after\n"); code != http.StatusOK {
				t.Fatalf("the next request got %d, want 200", code)
			}
			if got := events(t, e.out, 1); len(got) != 1 || raw(got[0]) != "after" {
				t.Errorf("delivered %d events, want only the next request's", len(got))
			}
			// Nothing of the refused body reached the spool: the buffer
			// took one event of 5 bytes.
			for series, want := range map[string]float64{
				`sluice_events_in_total{kind="buffer",name="out"}`: 1,
				`sluice_bytes_in_total{kind="buffer",name="out"}`:  5,
			} {
				if got := metric(t, e.admin, series); got != want {
					t.Errorf("%s = %v, want %v", series, got, want)
				}
			}
		},
	}, {
		name:   "syslog message over maxMessageBytes",
		source: `{"type": "syslog", "network": "tcp", "addr": %[1]q, "format": "none", "maxMessageBytes": 16384}`,
		run: func(t *testing.T, e env) {
			c, err := net.Dial("tcp", e.in)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			long := "<13>1 - h app - - - " + strings.Repeat("s", 2*limit)
			if _, err := io.WriteString(c, long+"\n<13>1 - h app - - - next\n"); err != nil {
				t.Fatal(err)
			}
			got := events(t, e.out, 2)
			if r := raw(got[0]); r != long[:limit] || !strings.Contains(flags(got[0]), "truncated") {
				t.Errorf("the long message arrived as %d bytes with flags %s, want its first %d, flagged truncated", len(r), flags(got[0]), limit)
			}
			if r := raw(got[1]); r != "<13>1 - h app - - - next" {
				t.Errorf("the next message arrived as %.40q, want it whole", r)
			}
			if got := metric(t, e.admin, `sluice_errors_total{cause="oversized",kind="source",name="in"}`); got != 1 {
				t.Errorf("oversized errors = %v, want 1", got)
			}
			// The connection carries on.
			if _, err := io.WriteString(c, "<13>1 - h app - - - last\n"); err != nil {
				t.Fatal(err)
			}
			if got := events(t, e.out, 3); raw(got[2]) != "<13>1 - h app - - - last" {
				t.Errorf("after the long message, the connection delivered %.40q", raw(got[2]))
			}
		},
	}, {
		name:   "file line over maxLineBytes",
		source: `{"type": "file", "paths": [%[1]q], "startAt": "beginning", "pollInterval": "10ms", "maxLineBytes": 16384}`,
		run: func(t *testing.T, e env) {
			var line strings.Builder
			for i := 0; line.Len() < 2*limit+1000; i++ {
				fmt.Fprintf(&line, "%d,", i) // no two pieces alike
			}
			if err := os.WriteFile(e.in, []byte(line.String()+"\nshort\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			got := events(t, e.out, 4)
			var joined string
			for i, ev := range got[:3] {
				r := raw(ev)
				joined += r
				split := strings.Contains(flags(ev), "split")
				if last := i == 2; split == last || (!last && len(r) != limit) {
					t.Errorf("piece %d: %d bytes, flags %s; want %d bytes flagged split, the last one unflagged", i, len(r), flags(ev), limit)
				}
			}
			if joined != line.String() {
				t.Errorf("the pieces joined make %d bytes, not the line's %d", len(joined), line.Len())
			}
			if raw(got[3]) != "short" || len(got) != 4 {
				t.Errorf("after the pieces: %d events, the 4th %.20q; want 4, the 4th \"short\"", len(got), raw(got[3]))
			}
		},
	}, {
		name:   "handler grows an event, route with a deadLetter",
		source: `{"type": "http", "addr": %[1]q, "format": "lines", "maxBodyBytes": 16384}`,
		route:  `"deadLetter": "dlq", ` + grow,
		run: func(t *testing.T, e env) {
			if code := post(t, e, "small 1\ngrow\nsmall 2\n"); code != http.StatusOK {
				t.Fatalf("got %d, want 200", code)
			}
			// The 200 came once every event was acked: the grown one is in
			// the dead letter already, with the reason.
			got := readLines(t, e.dlq)
			if len(got) != 1 || raw(got[0]) != "grow" {
				t.Fatalf("at the 200 the dead letter holds %d events, want the grown one", len(got))
			}
			f, _ := got[0]["fields"].(map[string]any)
			if reason := fmt.Sprint(f["deadLetter.error"]); !strings.HasPrefix(reason, "too large for the spool: ") || !strings.HasSuffix(reason, " bytes, buffer out segmentBytes 65536") {
				t.Errorf("deadLetter.error = %q", reason)
			}
			out := events(t, e.out, 2)
			if len(out) != 2 || raw(out[0]) != "small 1" || raw(out[1]) != "small 2" {
				t.Errorf("the destination holds %d events, want the two small ones", len(out))
			}
			tooLarge(t, e, 1)
		},
	}, {
		name:   "handler grows an event, route without a deadLetter",
		source: `{"type": "http", "addr": %[1]q, "format": "lines", "maxBodyBytes": 16384}`,
		route:  grow,
		run: func(t *testing.T, e env) {
			if code := post(t, e, "small 1\ngrow\nsmall 2\n"); code != http.StatusOK {
				t.Fatalf("got %d, want 200", code)
			}
			// The 200 came once every event was acked: the grown one went
			// around the spool and the destination holds it already.
			found := false
			for _, ev := range readLines(t, e.out) {
				f, _ := ev["fields"].(map[string]any)
				found = found || (raw(ev) == "grow" && len(fmt.Sprint(f["pad"])) == 100000)
			}
			if !found {
				t.Fatal("at the 200 the destination does not hold the grown event")
			}
			if got := events(t, e.out, 3); len(got) != 3 {
				t.Errorf("the destination holds %d events, want 3", len(got))
			}
			tooLarge(t, e, 1)
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			e := env{dir: dir, in: freeAddr(t), out: filepath.Join(dir, "out.ndjson"), dlq: filepath.Join(dir, "dlq.ndjson"), admin: freeAddr(t)}
			if strings.Contains(tc.source, `"file"`) {
				e.in = filepath.Join(dir, "in.log")
			}
			cfg := fmt.Sprintf(`{
				"dataDir": %q,
				"admin": {"addr": %q},
				"sources": {"in": %s},
				"destinations": {
					"out": {"type": "file", "path": %q, "batch": {"age": "5ms"},
						"buffer": {"type": "disk", "maxBytes": 262144, "segmentBytes": %d}},
					"dlq": {"type": "file", "path": %q},
				},
				"routes": [{"from": ["in"], "to": ["out"], %s}],
			}`, dir, e.admin, fmt.Sprintf(tc.source, e.in, dir), e.out, segment, e.dlq, tc.route)
			stop := start(t, cfg, testRegistry(&ackLog{}))
			waitReady(t, e.admin)
			tc.run(t, e)
			if err := stop(); err != nil {
				t.Fatalf("Run = %v", err)
			}
		})
	}
}

// waitReady waits up to 15s for the daemon whose admin listener is at
// addr to answer /readyz with 200.
func waitReady(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 within 15s: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
