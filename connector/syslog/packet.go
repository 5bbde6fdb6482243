package syslog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batch is how many datagrams one recvmmsg call may return.
const batch = 64

// readPackets receives datagrams until ctx is done, in batches where the
// socket allows it, and counts what the kernel dropped.
func (s *Source) readPackets(ctx context.Context, pc net.PacketConn) {
	stop := context.AfterFunc(ctx, func() { _ = pc.SetReadDeadline(time.Now()) })
	defer stop()
	drops := newDropCounter(pc)
	var a arena
	// One byte over the limit tells a datagram that was cut.
	size := s.cfg.MaxMessageBytes + 1
	if udp, ok := pc.(*net.UDPConn); ok {
		var br batchReader = ipv6.NewPacketConn(udp)
		if isIPv4(udp.LocalAddr()) {
			br = ipv4.NewPacketConn(udp)
		}
		s.readBatches(ctx, br, size, &a, drops)
		return
	}
	// A unix datagram socket: one datagram per read, and per queued batch.
	buf := make([]byte, size)
	var last hostCache
	p := pending{s: s}
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			if s.packetErr(ctx, err) {
				return
			}
			continue
		}
		now := time.Now()
		s.count.Dropped("kernel", drops.delta(now))
		if n == 0 {
			continue
		}
		if !p.add(ctx, &a, buf[:min(n, s.cfg.MaxMessageBytes)], last.host(addr), n > s.cfg.MaxMessageBytes, now) || !p.flush(ctx) {
			return
		}
	}
}

// batchReader reads many datagrams in one call (recvmmsg): x/net's
// ipv4.PacketConn and ipv6.PacketConn.
type batchReader interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
}

func (s *Source) readBatches(ctx context.Context, pc batchReader, size int, a *arena, drops *dropCounter) {
	msgs := make([]ipv4.Message, batch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, size)}
	}
	var last hostCache
	p := pending{s: s}
	for {
		n, err := pc.ReadBatch(msgs, 0)
		if err != nil {
			if s.packetErr(ctx, err) {
				return
			}
			continue
		}
		now := time.Now()
		s.count.Dropped("kernel", drops.delta(now))
		for _, m := range msgs[:n] {
			if m.N == 0 {
				continue
			}
			cut := m.N > s.cfg.MaxMessageBytes || m.Flags&syscall.MSG_TRUNC != 0
			if !p.add(ctx, a, m.Buffers[0][:min(m.N, s.cfg.MaxMessageBytes)], last.host(m.Addr), cut, now) {
				return
			}
		}
		if !p.flush(ctx) { // one call for the whole recvmmsg batch
			return
		}
	}
}

// packetErr reports whether reading should stop.
func (s *Source) packetErr(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
		return true
	}
	s.count.Error("read")
	s.logs.Log(s.log, slog.LevelWarn, "read", "err", err)
	return false
}

func isIPv4(a net.Addr) bool {
	ua, ok := a.(*net.UDPAddr)
	return ok && ua.IP.To4() != nil
}

// hostCache remembers the string of the last sender, which is usually the
// next one too, to save an allocation per datagram.
type hostCache struct {
	addr net.Addr
	s    string
}

func (h *hostCache) host(a net.Addr) string {
	if a == nil {
		return ""
	}
	if ua, ok := a.(*net.UDPAddr); ok {
		if la, ok := h.addr.(*net.UDPAddr); ok && la.Port == ua.Port && la.IP.Equal(ua.IP) {
			return h.s
		}
	}
	h.addr, h.s = a, hostOf(a)
	return h.s
}

// dropCounter reads the kernel's count of datagrams dropped on our socket
// (the "drops" column of /proc/net/udp), at most once a second.
type dropCounter struct {
	inode string
	last  uint64
	next  time.Time
}

func newDropCounter(pc net.PacketConn) *dropCounter {
	sc, ok := pc.(syscall.Conn)
	if !ok {
		return &dropCounter{}
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return &dropCounter{}
	}
	d := &dropCounter{}
	_ = rc.Control(func(fd uintptr) {
		link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			d.inode = strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")
		}
	})
	d.last = d.read()
	return d
}

// delta returns the drops since the last call, reading at most once a
// second.
func (d *dropCounter) delta(now time.Time) int {
	if d.inode == "" || now.Before(d.next) {
		return 0
	}
	d.next = now.Add(time.Second)
	v := d.read()
	if v < d.last {
		return 0
	}
	n := v - d.last
	d.last = v
	return int(n)
}

func (d *dropCounter) read() uint64 {
	for _, table := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local rem st tx:rx tr:tm retrnsmt uid timeout inode ref pointer drops
			if len(fields) >= 13 && fields[9] == d.inode {
				f.Close()
				n, _ := strconv.ParseUint(fields[12], 10, 64)
				return n
			}
		}
		f.Close()
	}
	return 0
}
