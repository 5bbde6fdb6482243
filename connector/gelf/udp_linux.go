package gelf

import (
	"context"
	"net"
	"os"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// udpConn is a connected UDP socket that Go's netpoller does not watch.
// A watched socket wakes the netpoller's thread each time the kernel
// frees a datagram it sent (the socket became writable again): up to
// one wake-up per datagram, on the sender's CPU. Sends do not block
// (MSG_DONTWAIT); when the send buffer is full, the writer waits for
// room in poll(2) until its deadline. A udpConn is used by one goroutine
// at a time.
type udpConn struct {
	fd       int
	deadline time.Time
	hdrs     []mmsghdr
	iovs     []unix.Iovec
}

// mmsghdr is struct mmsghdr of sendmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// dialUDP resolves addr as d does, then connects a socket of its own to
// the address d chose.
func dialUDP(ctx context.Context, d *net.Dialer, addr string) (conn, error) {
	c, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return nil, err
	}
	ra := c.RemoteAddr().(*net.UDPAddr)
	c.Close()
	var sa unix.Sockaddr
	family := unix.AF_INET
	if ip4 := ra.IP.To4(); ip4 != nil {
		sa = &unix.SockaddrInet4{Port: ra.Port, Addr: [4]byte(ip4)}
	} else {
		family = unix.AF_INET6
		sa6 := &unix.SockaddrInet6{Port: ra.Port, Addr: [16]byte(ra.IP.To16())}
		if ra.Zone != "" {
			if ifi, err := net.InterfaceByName(ra.Zone); err == nil {
				sa6.ZoneId = uint32(ifi.Index)
			}
		}
		sa = sa6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	// As Go's own UDP sockets (a broadcast serviceAddr works as before).
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("connect", err)
	}
	return &udpConn{fd: fd}, nil
}

// SetWriteDeadline sets the time after which a write waiting for room
// in the send buffer fails with [os.ErrDeadlineExceeded]; zero: none.
func (c *udpConn) SetWriteDeadline(t time.Time) error {
	c.deadline = t
	return nil
}

// Write sends b as one datagram.
func (c *udpConn) Write(b []byte) (int, error) {
	m := []ipv4.Message{{Buffers: [][]byte{b}}}
	if _, err := c.WriteBatch(m, 0); err != nil {
		return 0, err
	}
	return len(b), nil
}

// WriteBatch sends ms, each one buffer and its control message, in one
// sendmmsg, and returns how many were sent (at least one, or an error).
func (c *udpConn) WriteBatch(ms []ipv4.Message, _ int) (int, error) {
	c.hdrs, c.iovs = c.hdrs[:0], c.iovs[:0]
	for _, m := range ms {
		b := m.Buffers[0]
		iov := unix.Iovec{}
		if len(b) > 0 {
			iov.Base = &b[0]
		}
		iov.SetLen(len(b))
		c.iovs = append(c.iovs, iov)
	}
	for k, m := range ms {
		h := mmsghdr{}
		h.hdr.Iov = &c.iovs[k]
		h.hdr.SetIovlen(1)
		if len(m.OOB) > 0 {
			h.hdr.Control = &m.OOB[0]
			h.hdr.SetControllen(len(m.OOB))
		}
		c.hdrs = append(c.hdrs, h)
	}
	for {
		n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(c.fd), uintptr(unsafe.Pointer(&c.hdrs[0])), uintptr(len(c.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			return int(n), nil
		case unix.EINTR:
		case unix.EAGAIN:
			if err := c.waitWritable(); err != nil {
				return 0, err
			}
		default:
			return 0, os.NewSyscallError("sendmmsg", errno)
		}
	}
}

// waitWritable waits until the send buffer has room or the deadline
// passes.
func (c *udpConn) waitWritable() error {
	for {
		ms := -1
		if !c.deadline.IsZero() {
			left := time.Until(c.deadline)
			if left <= 0 {
				return os.ErrDeadlineExceeded
			}
			ms = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		_, err := unix.Poll([]unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLOUT}}, ms)
		switch err {
		case nil:
			return nil // writable, timed out (checked above next round) or an error the send reports
		case unix.EINTR:
		default:
			return os.NewSyscallError("poll", err)
		}
	}
}

// Close closes the socket.
func (c *udpConn) Close() error { return unix.Close(c.fd) }
