package daemon

import (
	"testing"
	"time"
)

// SetBindTimeout sets how long the daemon waits for a source to bind
// (BindTimeout) until the test ends.
func SetBindTimeout(t *testing.T, d time.Duration) {
	old := bindTimeout
	bindTimeout = d
	t.Cleanup(func() { bindTimeout = old })
}
