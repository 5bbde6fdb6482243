//go:build !linux

package cputime

import "time"

// Thread returns 0: no thread clock is read off Linux.
func Thread() time.Duration { return 0 }
