package daemon_test

import (
	"bufio"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sluice_acked_total moves for sources and disk buffers, not only for
// destinations: every event the gen source made is counted acked by the
// source, by the buffer (once spooled) and by the destination (once
// written), and the buffer counts what it took in and handed on.
func TestAckedMetrics(t *testing.T) {
	for _, buffer := range []string{`{"type": "memory"}`, `{"type": "disk"}`} {
		t.Run(buffer, func(t *testing.T) {
			dir := t.TempDir()
			adminAddr := freeAddr(t)
			cfg := fmt.Sprintf(`{
				"dataDir": %q,
				"admin": {"addr": %q},
				"sources": {"g": {"type": "gen", "count": 700, "block": true}},
				"destinations": {"out": {"type": "file", "path": %q, "batch": {"age": "5ms"}, "buffer": %s}},
			}`, dir, adminAddr, filepath.Join(dir, "out.ndjson"), buffer)
			stop := start(t, cfg, testRegistry(&ackLog{}))
			defer func() {
				if err := stop(); err != nil {
					t.Errorf("Run = %v", err)
				}
			}()
			want := map[string]float64{
				`sluice_acked_total{kind="source",name="g"}`:             700,
				`sluice_acked_total{kind="destination",name="out"}`:      700,
				`sluice_in_flight_events{kind="destination",name="out"}`: 0,
			}
			if buffer != `{"type": "memory"}` {
				want[`sluice_acked_total{kind="buffer",name="out"}`] = 700
				want[`sluice_events_in_total{kind="buffer",name="out"}`] = 700
				want[`sluice_events_out_total{kind="buffer",name="out"}`] = 700
			}
			deadline := time.Now().Add(10 * time.Second)
			for series, v := range want {
				for {
					got, ok := scrape(adminAddr, series)
					if ok && got == v {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("%s = %v, want %v", series, got, v)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
}

// scrape returns the value of series on the admin listener at addr, and
// false if the listener or the series is not there (yet).
func scrape(addr, series string) (float64, bool) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}
