//go:build !unix

package gelf

import "net"

// pending reports false: without a way to peek, only the reader
// goroutine of a [tcpConn] notices a close (see peek_unix.go).
func pending(net.Conn) bool { return false }
