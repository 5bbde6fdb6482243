//go:build !linux

package event_test

import "time"

// threadCPU is zero where no thread clock is read: the thread CPU
// metrics of BenchmarkJSONVersus then read zero.
func threadCPU() time.Duration { return 0 }
