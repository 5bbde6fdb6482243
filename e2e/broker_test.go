package e2e

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// brokerLines is how many lines a broker crash test sends:
// SLUICE_BROKER_LINES, or def (short enough for CI; the full
// proof is SLUICE_BROKER_LINES=100000 SLUICE_CRASH_CYCLES=5 or more).
func brokerLines(t *testing.T, def int) int {
	t.Helper()
	s := os.Getenv("SLUICE_BROKER_LINES")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("SLUICE_BROKER_LINES=%q: want a positive integer", s)
	}
	return n
}

// crashRun kills sluiced with SIGKILL cycles times while a producer
// feeds its source, leaving it down a moment each time so that messages
// queue at the broker, then restarts it and waits until out holds every
// one of n sequence numbers. It reports missing and duplicate lines.
func crashRun(t *testing.T, dir, config string, n, cycles int, produced func() int64, out *seqs) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	prevDups, maxDups := 0, 0
	for range cycles {
		d := start(t, dir, config)
		time.Sleep(time.Duration(400+rng.IntN(800)) * time.Millisecond) // the crash point
		d.kill()
		time.Sleep(time.Duration(200+rng.IntN(600)) * time.Millisecond) // down: the broker queues
		out.read(t)
		maxDups = max(maxDups, out.dups-prevDups)
		prevDups = out.dups
		t.Logf("after kill: produced %d, in output %d unique, %d duplicates", produced(), len(out.seen), out.dups)
	}
	d := start(t, dir, config)
	waitForLong(t, "the output to hold every line", 180*time.Second, func() bool {
		out.read(t)
		return len(out.seen) >= n
	})
	time.Sleep(500 * time.Millisecond) // late duplicates, if any
	d.stop(t)
	out.read(t)
	maxDups = max(maxDups, out.dups-prevDups) // a kill's duplicates show after the next start
	missing := 0
	for s := range int64(n) {
		if !out.seen[s] {
			missing++
			if missing <= 5 {
				t.Errorf("seq %d is missing", s)
			}
		}
	}
	t.Logf("cycles %d, lines %d, unique in output %d, missing %d, duplicates %d (at most %d between two starts)",
		cycles, n, len(out.seen), missing, out.dups, maxDups)
	if missing > 0 {
		t.Fatalf("%d of %d lines missing", missing, n)
	}
}

// producer writes n lines "seq=N pad" to w at about rate lines a second.
func producer(w io.Writer, n, rate int, stop <-chan struct{}) (count *atomic.Int64, wait func()) {
	count = &atomic.Int64{}
	var wg sync.WaitGroup
	wg.Go(func() {
		bw := bufio.NewWriter(w)
		pad := strings.Repeat("x", 60)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		per := max(rate/100, 1)
		for seq := 0; seq < n; {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for i := 0; i < per && seq < n; i++ {
				fmt.Fprintf(bw, "seq=%010d %s\n", seq, pad)
				seq++
			}
			if bw.Flush() != nil {
				return
			}
			count.Store(int64(seq))
		}
	})
	return count, wg.Wait
}

// readyz returns the status and body of sluiced's /readyz.
func readyz(t *testing.T, addr string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// syslogLines sends n RFC 5424 lines, "seq=N" in each message, over one
// TCP connection to addr.
func syslogLines(t *testing.T, addr string, n int) {
	t.Helper()
	c := dial(t, addr)
	defer c.Close()
	w := bufio.NewWriter(c)
	for i := range n {
		fmt.Fprintf(w, "<134>1 2026-01-02T03:04:05.000006Z web01 app 42 ID7 - seq=%010d GET /index.html 200\n", i)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

var seqRe = regexp.MustCompile(`seq=(\d{10})`)

// lineSeqs counts the seqs in text, one line per message.
func lineSeqs(text string) *seqs {
	got := &seqs{}
	for m := range strings.SplitSeq(text, "\n") {
		if sm := seqRe.FindStringSubmatch(m); sm != nil {
			s, _ := strconv.ParseInt(sm[1], 10, 64)
			got.add(s)
		}
	}
	return got
}
