package daemon_test

import (
	"fmt"
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
