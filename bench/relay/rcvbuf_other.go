//go:build !linux

package main

import "net"

// readBuffer sets c's receive buffer to n bytes.
func readBuffer(c *net.UDPConn, n int) { _ = c.SetReadBuffer(n) }
