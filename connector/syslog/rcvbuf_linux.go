package syslog

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// setReadBuffer asks for an n-byte receive buffer on pc: with
// SO_RCVBUFFORCE, which may exceed net.core.rmem_max, when the process
// may (CAP_NET_ADMIN), else with SO_RCVBUF, which the kernel caps. It
// returns the size the kernel gives (which counts its bookkeeping too:
// about twice what was asked), or 0 if unknown.
func setReadBuffer(pc net.PacketConn, n int) int {
	sc, ok := pc.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	got := 0
	_ = rc.Control(func(fd uintptr) {
		if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, n) != nil {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
		}
		got, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	})
	return got
}

// readRmemMax returns net.core.rmem_max, or 0 if it cannot be read.
func readRmemMax() int {
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}
