//go:build unix

package gelf

import (
	"errors"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// pending reports whether the socket under nc has something to read, or
// its end (a FIN, a reset), without blocking or reading it: a close the
// reader goroutine of a [tcpConn] has not been woken for yet.
func pending(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	more := false
	// Control, not Read: the reader goroutine holds the read lock while
	// it waits.
	err = rc.Control(func(fd uintptr) {
		var b [1]byte
		_, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		more = !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR)
	})
	return err != nil || more
}
