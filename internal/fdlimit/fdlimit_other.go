//go:build !unix

package fdlimit

import "testing"

// Need skips the test: file descriptor limits are raised only on unix.
func Need(t testing.TB, n uint64) {
	t.Helper()
	t.Skip("opening thousands of sockets is tested on unix only")
}
