//go:build !linux

package main

import "os"

// fdatasync falls back to fsync(2) where fdatasync(2) is missing.
func fdatasync(f *os.File) error { return f.Sync() }

// threadCPU is unknown off Linux: the ceiling reports no CPU.
func threadCPU() float64 { return 0 }

// preallocate does nothing off Linux.
func preallocate(string, int64) error { return nil }

// punchHole does nothing off Linux: a soak's output keeps its pages.
func punchHole(*os.File, int64, int64) error { return nil }
