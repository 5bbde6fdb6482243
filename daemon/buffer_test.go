package daemon_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/metrictest"
)

// hold is a destination that takes every event and never acks, like one
// whose server is down; it records what it was given.
type hold struct {
	mu  sync.Mutex
	got int
}

type holdConfig struct{}

func (h *hold) Send(_ context.Context, _ func(), msgs ...sluice.Message[event.Event]) error {
	h.mu.Lock()
	h.got += len(msgs)
	h.mu.Unlock()
	return nil
}

// bufferRegistry is testRegistry with the "hold" destination.
func bufferRegistry(acked *ackLog, h *hold) *daemon.Registry {
	r := testRegistry(acked)
	daemon.RegisterDestination(r, "hold", "never acks", func() *holdConfig { return &holdConfig{} },
		func(daemon.Env, *holdConfig) (sluice.Destination[event.Event], error) { return h, nil })
	return r
}

// start runs a daemon on cfg in the background; stop cancels it and
// returns what Run returned.
func start(t *testing.T, cfg string, r *daemon.Registry) (stop func() error) {
	t.Helper()
	dm, err := daemon.New([]byte(cfg), r, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- dm.Run(ctx) }()
	return func() error { cancel(); return <-done }
}

func runFor(t *testing.T, cfg string, r *daemon.Registry, d time.Duration) {
	t.Helper()
	dm, err := daemon.New([]byte(cfg), r, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	if err := dm.Run(ctx); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// With a disk buffer, sources are acked once the spool has the events;
// a destination that never acks leaves them in the spool, and the next
// run delivers them to a destination that works. The spool commands
// report them, and verify finds damage made to the files.
func TestDiskBufferKeepsWhatTheDestinationDidNotAck(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.ndjson")
	cfgFile := filepath.Join(dir, "sluice.hujson")
	first := fmt.Sprintf(`{
		"dataDir": %q,
		"shutdownTimeout": "2s",
		"sources": {"g": {"type": "gen", "count": 300, "block": true}},
		"destinations": {"out": {"type": "hold", "buffer": {"type": "disk", "maxBytes": 1048576, "segmentBytes": 16384}}},
	}`, dir)
	acked, h := &ackLog{}, &hold{}
	r := bufferRegistry(acked, h)
	stop := start(t, first, r)
	deadline := time.Now().Add(10 * time.Second)
	for {
		acked.mu.Lock()
		n := acked.n
		acked.mu.Unlock()
		h.mu.Lock()
		got := h.got
		h.mu.Unlock()
		if n == 300 && got == 300 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("source acked %d of 300 and the destination was given %d: want all, once the spool has them", n, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}

	// inspect and verify see 300 unacked records in several segments.
	if err := os.WriteFile(cfgFile, []byte(first), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := daemon.Main([]string{"spool", "inspect", "--config", cfgFile}, &stdout, &stderr, r); code != 0 {
		t.Fatalf("spool inspect exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "300 records, 300 unacknowledged") {
		t.Errorf("spool inspect said:\n%s\nwant 300 records, 300 unacknowledged", stdout.String())
	}
	stdout.Reset()
	if code := daemon.Main([]string{"spool", "verify", "--config", cfgFile}, &stdout, &stderr, r); code != 0 {
		t.Fatalf("spool verify exit %d: %s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "buffer out: ok: 300 records") {
		t.Errorf("spool verify said %q", stdout.String())
	}

	// Damage one record of the first segment: verify reports it, and the
	// next run skips exactly it and delivers the other 299.
	segs, _ := filepath.Glob(filepath.Join(dir, "spool", "out", "*.seg"))
	if len(segs) < 2 {
		t.Fatalf("spool holds %d segments, want several", len(segs))
	}
	seg, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	seg[len(seg)/2] ^= 0xff
	if err := os.WriteFile(segs[0], seg, 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if code := daemon.Main([]string{"spool", "verify", "--config", cfgFile}, &stdout, &stderr, r); code != 1 {
		t.Errorf("spool verify after damage exit %d, want 1: %s", code, stdout.String())
	}
	if !strings.Contains(stdout.String(), "DAMAGED: 1 damaged regions, 1 records lost") {
		t.Errorf("spool verify said:\n%s\nwant one region, one record lost", stdout.String())
	}

	second := strings.Replace(first, `"type": "hold"`, fmt.Sprintf(`"type": "file", "path": %q`, out), 1)
	second = strings.Replace(second, `"count": 300`, `"count": 0`, 1)
	runFor(t, second, r, 3*time.Second)
	lines := readLines(t, out)
	if len(lines) != 299 {
		t.Fatalf("second run delivered %d events, want the 299 undamaged ones", len(lines))
	}
	seen := map[string]bool{}
	for _, l := range lines {
		seen[l["raw"].(string)] = true
	}
	if len(seen) != 299 {
		t.Errorf("%d distinct events, want 299", len(seen))
	}
	// Everything acked: nothing left to deliver.
	stdout.Reset()
	if code := daemon.Main([]string{"spool", "inspect", "--config", cfgFile}, &stdout, &stderr, r); code != 0 {
		t.Fatalf("spool inspect exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), " 0 unacknowledged") {
		t.Errorf("after delivery, spool inspect said:\n%s", stdout.String())
	}
}

// A route's buffer sits after its handlers and feeds each of its
// destinations every event; a clean stop delivers and acks everything.
func TestRouteDiskBuffer(t *testing.T) {
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{
		"dataDir": %q,
		"sources": {"g": {"type": "gen", "count": 2000}},
		"destinations": {
			"a": {"type": "file", "path": %q},
			"b": {"type": "file", "path": %q, "buffer": {"type": "disk"}},
		},
		"routes": [{"name": "both", "from": ["g"], "to": ["a", "b"], "buffer": {"type": "disk", "sync": "interval"},
			"handlers": [{"type": "drop", "if": "raw == \"line 7\""}]}],
	}`, dir, filepath.Join(dir, "a.ndjson"), filepath.Join(dir, "b.ndjson"))
	acked := &ackLog{}
	runFor(t, cfg, testRegistry(acked), 20*time.Second)
	for _, name := range []string{"a", "b"} {
		if got := readLines(t, filepath.Join(dir, name+".ndjson")); len(got) != 1999 {
			t.Errorf("%s holds %d events, want 1999", name, len(got))
		}
	}
	if acked.n != 2000 {
		t.Errorf("%d acked, want 2000", acked.n)
	}
	for _, sub := range []string{"both", "b"} {
		if _, err := os.Stat(filepath.Join(dir, "spool", sub)); err != nil {
			t.Errorf("spool directory: %v", err)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// metric returns the value of series on the admin listener at addr.
func metric(t *testing.T, addr, series string) float64 {
	return metrictest.Value(t, "http://"+addr+"/metrics", series)
}

// A full spool in front of a destination that never acks: "block" makes
// the http source answer 503 with Retry-After (back-pressure reaches the
// sender, nothing is acked that is not on disk); "dropNewest" answers 200,
// and every event sent is either in the spool or counted as dropped.
func TestDiskBufferFull(t *testing.T) {
	for _, whenFull := range []string{"block", "dropNewest"} {
		t.Run(whenFull, func(t *testing.T) {
			dir := t.TempDir()
			httpAddr, adminAddr := freeAddr(t), freeAddr(t)
			cfg := fmt.Sprintf(`{
				"dataDir": %q,
				"shutdownTimeout": "1s",
				"admin": {"addr": %q},
				"sources": {"in": {"type": "http", "addr": %q, "requestTimeout": "1s", "maxBodyBytes": 4096}},
				"destinations": {"out": {"type": "hold", "buffer": {"type": "disk", "maxBytes": 65536, "segmentBytes": 16384, "whenFull": %q}}},
			}`, dir, adminAddr, httpAddr, whenFull)
			stop := start(t, cfg, bufferRegistry(&ackLog{}, &hold{}))
			defer func() {
				if err := stop(); err != nil && whenFull == "dropNewest" {
					t.Errorf("Run = %v", err)
				}
			}()
			body := strings.Repeat(strings.Repeat("x", 200)+"\n", 20)
			sent, ok, refused, begin := 0, 0, 0, time.Now()
			for i := 0; i < 200 && (whenFull != "block" || refused == 0); {
				resp, err := http.Post("http://"+httpAddr+"/", "application/x-ndjson", strings.NewReader(body))
				if err != nil {
					if time.Since(begin) > 15*time.Second {
						t.Fatalf("the http source does not answer: %v", err)
					}
					time.Sleep(20 * time.Millisecond) // not listening yet
					continue
				}
				i++
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				sent += 20
				switch resp.StatusCode {
				case http.StatusOK:
					ok++
				case http.StatusServiceUnavailable:
					refused++
					if resp.Header.Get("Retry-After") == "" {
						t.Error("503 without Retry-After")
					}
				default:
					t.Fatalf("status %d", resp.StatusCode)
				}
			}
			records := metric(t, adminAddr, `sluice_spool_records{buffer="out"}`)
			dropped := metric(t, adminAddr, `sluice_spool_dropped_records_total{buffer="out"}`)
			t.Logf("%d requests answered 200, %d 503; spool holds %v records, dropped %v", ok, refused, records, dropped)
			if n := metric(t, adminAddr, `sluice_spool_fsync_duration_seconds_count{buffer="out"}`); n <= 0 {
				t.Errorf("fsync histogram count = %v, want some fsyncs", n)
			}
			if age := metric(t, adminAddr, `sluice_spool_oldest_unacked_age_seconds{buffer="out"}`); age <= 0 {
				t.Errorf("oldest unacked age = %v, want the age of the first record (never acked)", age)
			}
			if b := metric(t, adminAddr, `sluice_spool_bytes{buffer="out"}`); b <= 0 || b > 65536 {
				t.Errorf("spool bytes = %v, want some, at most maxBytes", b)
			}
			switch whenFull {
			case "block":
				if refused == 0 {
					t.Error("no request was refused although the spool is full")
				}
				resp, err := http.Get("http://" + adminAddr + "/readyz")
				if err != nil {
					t.Fatal(err)
				}
				why, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(why), "buffer out is full") {
					t.Errorf("/readyz with a full spool: %d %s, want 503 naming the buffer", resp.StatusCode, why)
				}
				if float64(ok*20) > records {
					t.Errorf("%d events acked to the sender, but the spool holds only %v", ok*20, records)
				}
			case "dropNewest":
				if refused != 0 || ok != 200 {
					t.Errorf("%d of 200 requests answered 200, %d refused: dropNewest takes everything", ok, refused)
				}
				if dropped <= 0 || records+dropped != float64(sent) {
					t.Errorf("spool holds %v and dropped %v: want both to add up to the %d sent, with some dropped", records, dropped, sent)
				}
			}
		})
	}
}

// A full spool with whenFull "block" holds a TCP syslog sender back: the
// source stops reading, the kernel's buffers fill, and the sender's writes
// stall instead of events being dropped.
func TestDiskBufferFullStopsTCPReading(t *testing.T) {
	dir := t.TempDir()
	sysAddr, adminAddr := freeAddr(t), freeAddr(t)
	cfg := fmt.Sprintf(`{
		"dataDir": %q,
		"shutdownTimeout": "1s",
		"admin": {"addr": %q},
		"sources": {"in": {"type": "syslog", "addr": %q, "network": "tcp", "maxMessageBytes": 2048}},
		"destinations": {"out": {"type": "hold", "buffer": {"type": "disk", "maxBytes": 65536, "segmentBytes": 16384}}},
	}`, dir, adminAddr, sysAddr)
	stop := start(t, cfg, bufferRegistry(&ackLog{}, &hold{}))
	defer stop()
	var c net.Conn
	var err error
	for begin := time.Now(); c == nil; {
		if c, err = net.Dial("tcp", sysAddr); err != nil {
			if time.Since(begin) > 15*time.Second {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	defer c.Close()
	line := []byte("<13>1 2026-11-25T00:00:00Z h app - - - " + strings.Repeat("x", 200) + "\n")
	chunk := bytes.Repeat(line, 256) // 64 KiB
	written := 0
	for {
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Write(chunk)
		written += n
		if err != nil {
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				t.Fatalf("write: %v", err)
			}
			break // the sender is held back
		}
		if written > 512<<20 {
			t.Fatalf("wrote %d MiB without being held back", written>>20)
		}
	}
	records := metric(t, adminAddr, `sluice_spool_records{buffer="out"}`)
	t.Logf("the sender was held back after %d KiB; the spool holds %v records", written>>10, records)
	if records*float64(len(line)) > 65536 {
		t.Errorf("spool holds %v records of %d bytes, more than maxBytes", records, len(line))
	}
	if dropped := metric(t, adminAddr, `sluice_spool_dropped_records_total{buffer="out"}`); dropped != 0 {
		t.Errorf("%v records dropped with whenFull block", dropped)
	}
}
