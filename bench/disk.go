package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Filesystem describes the filesystem holding dir: its type and device
// from /proc/self/mounts (the longest mount point that contains dir),
// and the statfs(2) magic, e.g. "ext4 on /dev/vda (mounted on /, statfs magic 0xef53)".
func Filesystem(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Sprintf("unknown (statfs: %v)", err)
	}
	magic := fmt.Sprintf("statfs magic %#x", uint64(st.Type))
	abs, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return magic
	}
	abs, _ = filepath.Abs(abs)
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return magic
	}
	var best []string
	for line := range strings.SplitSeq(string(mounts), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mp := f[1]
		if (abs == mp || strings.HasPrefix(abs, strings.TrimSuffix(mp, "/")+"/")) && (best == nil || len(mp) >= len(best[1])) {
			best = f
		}
	}
	if best == nil {
		return magic
	}
	return fmt.Sprintf("%s on %s (mounted on %s, %s)", best[2], best[0], best[1], magic)
}

// ceilingChunk is the ceiling's events per write and fdatasync: the
// spool's default batchCount.
const ceilingChunk = 1024

// ceilingSubject is the disk's raw ceiling, run inside the harness: the
// load written in chunks of ceilingChunk events, each followed by
// fdatasync(2), to a file in the same directory as the other subjects'
// spools.
func ceilingSubject() *Subject {
	return &Subject{
		Name:     "ceiling",
		Work:     fmt.Sprintf("in-harness loop: write(2) of %d events (the spool's batchCount; ~%d KiB) then fdatasync(2), to a file on the spool's filesystem; CPU is the writing thread's (RUSAGE_THREAD)", ceilingChunk, ceilingChunk*(jsonLen+1)>>10),
		Prepare:  func(*Env) error { return nil },
		Supports: func(Case) string { return "" },
		Version:  func(*Env) string { return "write+fdatasync" },
		Direct:   writeCeiling,
	}
}

// writeCeiling writes load to r.Out in chunks of ceilingChunk frames,
// fdatasyncing each, on one locked OS thread. It returns the time taken
// and the thread's CPU seconds.
func writeCeiling(r Run, l *Load) (time.Duration, float64, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	f, err := os.OpenFile(r.Out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	cpu0 := threadCPU()
	start := time.Now()
	for i := 0; i < l.Lines(); i += ceilingChunk {
		if _, err := f.Write(l.Span(i, min(i+ceilingChunk, l.Lines()))); err != nil {
			return 0, 0, err
		}
		if err := fdatasync(f); err != nil {
			return 0, 0, fmt.Errorf("fdatasync: %w", err)
		}
	}
	return time.Since(start), threadCPU() - cpu0, f.Close()
}

// fsyncCost times 200 appends of 4 KiB to a temporary file in dir, each
// followed by fdatasync(2), and returns the median and p99 of each pair.
func fsyncCost(dir string) (p50, p99 time.Duration, err error) {
	f, err := os.CreateTemp(dir, "sluice-bench-fsync-")
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	block := make([]byte, 4096)
	d := make([]int64, 200)
	for i := range d {
		start := time.Now()
		if _, err := f.Write(block); err != nil {
			return 0, 0, err
		}
		if err := fdatasync(f); err != nil {
			return 0, 0, err
		}
		d[i] = int64(time.Since(start))
	}
	return quantile(d, 0.5), quantile(d, 0.99), nil
}
