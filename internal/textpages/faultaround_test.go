//go:build linux && (386 || amd64 || arm || arm64 || loong64 || riscv64 || s390x)

package textpages

import (
	"bufio"
	"encoding/binary"
	"errors"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const window = 64 << 10 // the kernel's default fault-around

// probe takes the pages of the executable's mappings out of the resident
// set, then reads one byte of a page in a 64 KiB window of the code that
// nothing else touched, and returns how many pages of that window are
// mapped afterwards (16 with fault-around, if the file's pages are
// cached, which it makes sure of). skip is the windows to pass over.
func probe(t *testing.T, skip map[uintptr]bool) (present int, win uintptr) {
	t.Helper()
	text := textMapping(t)
	exe, err := os.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer exe.Close()
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	count := func(w uintptr) int {
		var b [window / 4096 * 8]byte
		if _, err := pm.ReadAt(b[:], int64(w/4096*8)); err != nil {
			t.Fatal(err)
		}
		n := 0
		for i := 0; i < len(b); i += 8 {
			if binary.LittleEndian.Uint64(b[i:])>>63 == 1 {
				n++
			}
		}
		return n
	}
	buf := make([]byte, window)
	// Windows from the middle of the code on: far from the runtime and
	// the testing package, at the start.
	for w := (text.lo + (text.hi-text.lo)/2) &^ (window - 1); w+window <= text.hi; w += window {
		if skip[w] {
			continue
		}
		// Cache the window's pages, so that fault-around would map them.
		if _, err := exe.ReadAt(buf, int64(text.off+w-text.lo)); err != nil {
			t.Fatal(err)
		}
		if _, err := Release(); err != nil {
			t.Fatal(err)
		}
		if count(w) != 0 {
			continue // something runs here: another window
		}
		// One byte of one page (read through /proc/self/mem, which
		// faults as the process's own read does).
		if _, err := mem.ReadAt(buf[:1], int64(w+5*4096)); err != nil {
			t.Fatal(err)
		}
		return count(w), w
	}
	t.Fatal("no window of the code left untouched after Release")
	return 0, 0
}

type mapping struct{ lo, hi, off uintptr }

// textMapping returns the executable's mapping of its code.
func textMapping(t *testing.T) mapping {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 6 || fs[5] != exe || fs[1] != "r-xp" {
			continue
		}
		a, b, _ := strings.Cut(fs[0], "-")
		lo, _ := strconv.ParseUint(a, 16, 64)
		hi, _ := strconv.ParseUint(b, 16, 64)
		off, _ := strconv.ParseUint(fs[2], 16, 64)
		return mapping{uintptr(lo), uintptr(hi), uintptr(off)}
	}
	t.Fatal("no r-xp mapping of the executable in /proc/self/maps")
	return mapping{}
}

// TestNoFaultAround reads one byte of the code before and after
// NoFaultAround: before, the kernel maps the cached pages around it (the
// control: the test skips where it does not, as with fault_around_bytes
// set to one page); after, only the page read (and at most a few that
// something else ran meanwhile) becomes resident. Release still takes
// pages out afterwards.
func TestNoFaultAround(t *testing.T) {
	if FaultAroundOff() {
		t.Skip("NoFaultAround is in effect in this process already (-count above 1), and cannot be undone")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // no collection reading metadata meanwhile
	before, w := probe(t, nil)
	t.Logf("with fault-around: %d of %d pages of the window at %#x mapped after reading one", before, window/4096, w)
	if before < window/4096/2 {
		t.Skipf("the kernel mapped %d pages around one read: no fault-around to turn off", before)
	}
	if err := NoFaultAround(); err != nil {
		if errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) {
			t.Skipf("userfaultfd's asynchronous write-protect mode is not available here: %v", err)
		}
		t.Fatal(err)
	}
	if !FaultAroundOff() {
		t.Fatal("NoFaultAround succeeded but FaultAroundOff is false")
	}
	if err := NoFaultAround(); err != nil { // again: nothing changes
		t.Fatal(err)
	}
	after, w := probe(t, map[uintptr]bool{w: true})
	t.Logf("without: %d of %d pages of the window at %#x mapped after reading one", after, window/4096, w)
	if after < 1 || after > 3 {
		t.Fatalf("%d pages of the window mapped after reading one byte: want the one read (and at most 2 others run meanwhile)", after)
	}
	// Code and constant data still work, and Release still releases.
	if got := strconv.Quote("ünïcode\n"); got != `"ünïcode\n"` {
		t.Fatalf("Quote: %s", got)
	}
	if n, err := Release(); err != nil || n == 0 {
		t.Fatalf("Release after NoFaultAround: %d bytes, %v", n, err)
	}
}
