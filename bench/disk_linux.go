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
