package main

import (
	"os"
	"syscall"
	"time"
)

// fdatasync flushes f's data (and the size, which an append changes).
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

// rusageThread is RUSAGE_THREAD from getrusage(2).
const rusageThread = 1

// threadCPU returns the calling OS thread's user+system CPU seconds.
func threadCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// preallocate gives the file at path (created if need be, left empty)
// n bytes of pages beyond its end: fallocate(2) with FALLOC_FL_KEEP_SIZE.
func preallocate(path string, n int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	const keepSize = 1 // FALLOC_FL_KEEP_SIZE
	return syscall.Fallocate(int(f.Fd()), keepSize, 0, n)
}

// punchHole frees the pages of f's bytes [off, off+n) and keeps its size:
// fallocate(2) with FALLOC_FL_PUNCH_HOLE.
func punchHole(f *os.File, off, n int64) error {
	const punchHole, keepSize = 2, 1 // FALLOC_FL_PUNCH_HOLE, FALLOC_FL_KEEP_SIZE
	return syscall.Fallocate(int(f.Fd()), punchHole|keepSize, off, n)
}
