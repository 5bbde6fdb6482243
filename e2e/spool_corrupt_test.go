package e2e

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/internal/metrictest"
)

// seqSet counts the distinct seqs a target received.
type seqSet struct {
	mu   sync.Mutex
	seen map[int64]bool
}

func (s *seqSet) add(seq int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[seq] = true
}

func (s *seqSet) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// postSeqs POSTs events from..to-1 as NDJSON lines of ~250 bytes, n per
// request, and fails unless each request gets 200.
func postSeqs(t *testing.T, url string, from, to, n int) {
	t.Helper()
	pad := strings.Repeat("p", 220)
	for i := from; i < to; i += n {
		var body bytes.Buffer
		for s := i; s < min(i+n, to); s++ {
			fmt.Fprintf(&body, `{"seq":%d,"pad":%q}`+"\n", s, pad)
		}
		resp, err := http.Post(url, "application/x-ndjson", &body)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST of seqs %d..: status %d", i, resp.StatusCode)
		}
	}
}

// frames returns the end offsets of the valid frames of a spool segment
// (format in spool/segment.go: a 24-byte header whose first 4 bytes are
// the payload's length).
func frames(t *testing.T, path string) []int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ends []int
	for off := 0; off+24 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		if off+24+n > len(b) {
			break
		}
		off += 24 + n
		ends = append(ends, off)
	}
	return ends
}

// TestSpoolCorruption fills a disk buffer while its destination is down,
// kills sluiced, damages the spool's files between runs, and restarts it
// with the destination up. sluiced must start, deliver every record that
// is not damaged, and report exactly how many were lost: in "sluiced spool
// verify", in its log and in sluice_spool_skipped_records_total.
func TestSpoolCorruption(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test in -short mode")
	}
	const total = 2000
	cases := []struct {
		name string
		// damage damages the spool in dir, whose segments are segs (at
		// least 4), and returns the number of records it destroyed.
		damage func(t *testing.T, dir string, segs []string) int
	}{
		{"flip a byte in 3 records", func(t *testing.T, dir string, segs []string) int {
			b, _ := os.ReadFile(segs[1])
			ends := frames(t, segs[1])
			for _, k := range []int{1, 5, 9} {
				b[ends[k]-10] ^= 0x5a // inside record k's payload
			}
			must(t, os.WriteFile(segs[1], b, 0o644))
			return 3
		}},
		{"flip a length field", func(t *testing.T, dir string, segs []string) int {
			b, _ := os.ReadFile(segs[2])
			ends := frames(t, segs[2])
			b[ends[3]+1] ^= 0x01 // the length of record 4
			must(t, os.WriteFile(segs[2], b, 0o644))
			return 1
		}},
		{"truncate a sealed segment", func(t *testing.T, dir string, segs []string) int {
			ends := frames(t, segs[1])
			cut := ends[len(ends)/2] - 7 // inside a record
			must(t, os.Truncate(segs[1], int64(cut)))
			return len(ends) - len(ends)/2
		}},
		{"delete a segment", func(t *testing.T, dir string, segs []string) int {
			n := len(frames(t, segs[2]))
			must(t, os.Remove(segs[2]))
			return n
		}},
		{"delete the position file", func(t *testing.T, dir string, segs []string) int {
			must(t, os.Remove(filepath.Join(dir, "position.json")))
			return 0
		}},
		{"garbage over records of the newest segment", func(t *testing.T, dir string, segs []string) int {
			last := segs[len(segs)-1]
			ends := frames(t, last)
			if len(ends) < 6 {
				t.Skipf("newest segment holds %d records", len(ends))
			}
			b, _ := os.ReadFile(last)
			for i := ends[1] + 3; i < ends[3]-3; i++ { // records 2 and 3
				b[i] = byte(i*7 + 1)
			}
			must(t, os.WriteFile(last, b, 0o644))
			return 2
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rcv := &seqSet{seen: map[int64]bool{}}
			tg := newTarget(t, rcv.add)
			httpPort, adminPort := freePort(t), freePort(t)
			config := fmt.Sprintf(`{
				"dataDir": %q,
				"shutdownTimeout": "2s",
				"admin": {"addr": "127.0.0.1:%d"},
				"sources": {"in": {"type": "http", "addr": "127.0.0.1:%d", "maxBodyBytes": 32768}},
				"destinations": {"out": {"type": "http", "url": %q, "batch": {"age": "20ms", "retry": {"initial": "10ms", "max": "100ms"}},
					"buffer": {"type": "disk", "segmentBytes": 65536, "maxBytes": 67108864}}},
			}`, dir, adminPort, httpPort, "http://"+tg.addr+"/")
			// A quarter is delivered, and its position persisted; the rest
			// waits in the spool for the destination, which goes down.
			d := start(t, dir, config)
			url := fmt.Sprintf("http://127.0.0.1:%d/", httpPort)
			tg.set(true, false)
			postSeqs(t, url, 0, total/4, 50)
			spoolDir := filepath.Join(dir, "spool", "out")
			waitFor(t, "the first quarter delivered and its position persisted", func() bool {
				// A blank position file is the placeholder of a new spool.
				b, err := os.ReadFile(filepath.Join(spoolDir, "position.json"))
				return rcv.distinct() == total/4 && err == nil && bytes.Contains(b, []byte(`"segment"`))
			})
			tg.set(false, true) // down, answering 503
			postSeqs(t, url, total/4, total, 50)
			d.kill()

			segs, _ := filepath.Glob(filepath.Join(spoolDir, "*.seg"))
			if len(segs) < 4 {
				t.Fatalf("the spool holds %d segments, want at least 4", len(segs))
			}
			lost := tc.damage(t, spoolDir, segs)

			out, code := verify(t, dir)
			switch {
			case lost == 0 && (code != 0 || !strings.Contains(out, "ok: ")):
				t.Errorf("spool verify: exit %d, want 0:\n%s", code, out)
			case lost > 0 && (code != 1 || !strings.Contains(out, fmt.Sprintf(" %d records lost,", lost))):
				t.Errorf("spool verify: exit %d, want 1 and %d records lost:\n%s", code, lost, out)
			}

			tg.set(true, false)
			d = start(t, dir, config)
			waitForLong(t, fmt.Sprintf("%d events at the destination", total-lost), 60e9, func() bool { return rcv.distinct() >= total-lost })
			skipped := scrape(t, adminPort, `sluice_spool_skipped_records_total{buffer="out"}`)
			d.stop(t)
			if got := rcv.distinct(); got != total-lost {
				t.Errorf("destination holds %d distinct events, want %d of %d (%d destroyed)", got, total-lost, total, lost)
			}
			if skipped != float64(lost) {
				t.Errorf("sluice_spool_skipped_records_total = %v, want %d", skipped, lost)
			}
			if !regexp.MustCompile(`spool: (skipping damaged region|records missing|no position file)`).MatchString(d.logs.String()) {
				t.Errorf("no log line names the damage:\n%s", d.logs.String())
			}
			t.Logf("%s: %d of %d records destroyed; %d delivered; verify and metrics agree", tc.name, lost, total, rcv.distinct())
		})
	}
}

// verify runs "sluiced spool verify" on the config in dir.
func verify(t *testing.T, dir string) (string, int) {
	t.Helper()
	cmd := exec.Command(sluiced, "spool", "verify", "--config", filepath.Join(dir, "sluiced.hujson"))
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// scrape returns the value of series on sluiced's admin listener.
func scrape(t *testing.T, port int, series string) float64 {
	return metrictest.Value(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", port), series)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
