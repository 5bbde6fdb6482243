//go:build !linux

package syslog

import "net"

// setReadBuffer asks for an n-byte receive buffer on pc; the size the
// kernel gives is unknown (0).
func setReadBuffer(pc net.PacketConn, n int) int {
	if c, ok := pc.(interface{ SetReadBuffer(int) error }); ok {
		_ = c.SetReadBuffer(n)
	}
	return 0
}

// readRmemMax returns 0: net.core.rmem_max is Linux's.
func readRmemMax() int { return 0 }
