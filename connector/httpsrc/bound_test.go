package httpsrc

import (
	"testing"

	"github.com/sluicehq/sluice/internal/listentest"
)

// The source is not ready until its address is bound, and an address in
// use fails Run at the "addr" field.
func TestNotReadyUntilBound(t *testing.T) {
	listentest.Run(t, []string{"addr"}, func(t *testing.T, addrs []string) listentest.Source {
		s, err := New(Config{Addr: addrs[0]}, "web")
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
