//go:build linux

package textpages

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func rssFile(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// TestRelease releases the test binary's program pages: its file-backed
// RSS falls, and the program goes on running code and reading constant
// data (mapped back from the page cache) as before.
func TestRelease(t *testing.T) {
	before := rssFile(t)
	n, err := Release()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFile(t)
	t.Logf("released %d bytes of mappings; RssFile %d → %d KiB", n, before>>10, after>>10)
	if n == 0 || after >= before {
		t.Fatalf("released %d bytes of mappings, RssFile %d → %d: want both to show pages released", n, before, after)
	}
	// Code and constant data still work: formatting touches both, and the
	// collector walks the program's tables.
	if got := strconv.Quote("ünïcode\n"); got != `"ünïcode\n"` {
		t.Fatalf("Quote after Release: %s", got)
	}
	runtime.GC()
	if _, err := Release(); err != nil { // again: nothing breaks
		t.Fatal(err)
	}
}
