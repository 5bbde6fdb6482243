package gelf_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/gelf"
	"github.com/sluicehq/sluice/connector/internal/storetest"
)

// BenchmarkPerEvent sends 250-byte events, 100 per Send, through the
// destination's Run until every Send is acked, beside the file
// destination (fsync per batch, its default) doing the same: one op is
// one event. It reports the process's CPU time per event (the in-process
// receivers discard what they read).
func BenchmarkPerEvent(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer u.Close()
	_ = u.SetReadBuffer(8 << 20)
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := u.ReadFromUDP(buf); err != nil {
				return
			}
		}
	}()
	storetest.File(b)
	msgs := storetest.Events(100, time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC))
	for _, tc := range []struct{ name, network, addr, comp string }{
		{"gelf/tcp", "tcp", l.Addr().String(), ""},
		{"gelf/udp", "udp", u.LocalAddr().String(), "auto"},
		{"gelf/udp+gzip", "udp", u.LocalAddr().String(), "gzip"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			d, err := gelf.New(gelf.Config{ServiceAddr: tc.addr, Network: tc.network, Compression: tc.comp})
			if err != nil {
				b.Fatal(err)
			}
			storetest.PerEvent(b, d, msgs)
		})
	}
}
