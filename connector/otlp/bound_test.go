package otlp

import (
	"testing"

	"github.com/sluicehq/sluice/internal/listentest"
)

// The source is not ready until both its addresses are bound, and an
// address in use fails Run at its field.
func TestNotReadyUntilBound(t *testing.T) {
	listentest.Run(t, []string{"grpcAddr", "httpAddr"}, func(t *testing.T, addrs []string) listentest.Source {
		s, err := NewSource(SourceConfig{GRPCAddr: addrs[0], HTTPAddr: addrs[1]}, "otel")
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
