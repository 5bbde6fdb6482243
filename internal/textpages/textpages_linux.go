package textpages

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

func release() (int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var total int64
	var lo, hi uint64
	candidate := false
	flush := func() error {
		if !candidate {
			return nil
		}
		candidate = false
		// Not syscall.Madvise: the range is not memory Go allocated.
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, uintptr(lo), uintptr(hi-lo), syscall.MADV_DONTNEED); e != 0 {
			return e
		}
		total += int64(hi - lo)
		return nil
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fs := strings.Fields(line)
		if len(fs) >= 5 && strings.Contains(fs[0], "-") && len(fs[1]) == 4 {
			// A mapping's header: "lo-hi perms offset dev inode path".
			if err := flush(); err != nil {
				return total, err
			}
			a, b, _ := strings.Cut(fs[0], "-")
			lo, _ = strconv.ParseUint(a, 16, 64)
			hi, _ = strconv.ParseUint(b, 16, 64)
			candidate = len(fs) == 6 && fs[5] == exe && fs[1][1] == '-' && hi > lo
			continue
		}
		// A private page written since it was mapped (none is expected in
		// a read-only mapping of a Go program) would be lost: skip such a
		// mapping.
		if v, ok := strings.CutPrefix(line, "Anonymous:"); ok && strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")) != "0" {
			candidate = false
		}
	}
	if err := sc.Err(); err != nil {
		return total, err
	}
	return total, flush()
}
