package syslog_test

import (
	"testing"

	"github.com/sluicehq/sluice/connector/syslog"
	"github.com/sluicehq/sluice/internal/listentest"
)

// The source is not ready until its sockets are bound, and an address in
// use fails Run at the "addr" field.
func TestNotReadyUntilBound(t *testing.T) {
	for _, network := range []string{"tcp", "udp+tcp"} {
		t.Run(network, func(t *testing.T) {
			listentest.Run(t, []string{"addr"}, func(t *testing.T, addrs []string) listentest.Source {
				s, err := syslog.New(syslog.Config{Addr: addrs[0], Network: network}, "sys")
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
}
