package main

import (
	"net"
	"syscall"
)

// readBuffer sets c's receive buffer to n bytes, past net.core.rmem_max
// when the process may (SO_RCVBUFFORCE), as sluiced does.
func readBuffer(c *net.UDPConn, n int) {
	if rc, err := c.SyscallConn(); err == nil {
		var forced error
		_ = rc.Control(func(fd uintptr) {
			forced = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, n)
		})
		if forced == nil {
			return
		}
	}
	_ = c.SetReadBuffer(n)
}
