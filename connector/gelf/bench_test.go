package gelf_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/gelf"
	"github.com/sluicehq/sluice/connector/internal/storetest"
	"golang.org/x/net/ipv4"
)

// TestMain runs the test binary as a UDP receiver when
// GELF_BENCH_RECEIVER is set (see udpReceiver), and as the sender-only
// case's sender when GELF_BENCH_SENDER is (see senderChild).
func TestMain(m *testing.M) {
	if os.Getenv("GELF_BENCH_RECEIVER") != "" {
		receiveUDP()
		return
	}
	if os.Getenv(senderEnv) != "" {
		senderChild()
		return
	}
	os.Exit(m.Run())
}

// BenchmarkPerEvent sends the storetest events (realistic syslog lines by
// default, see storetest.Events), 100 per Send, through the
// destination's Run until every Send is acked, beside the file
// destination (fsync per batch, its default) doing the same: one op is
// one event. It reports the process's CPU time per event. The receivers
// discard what they read (UDP: 64 datagrams per system call): in this
// process (their reads counted), and for udp-apart in a process of its
// own, as Graylog is (only the destination's own cost counted: the
// kernel's delivery on loopback still runs in the sender). udp-sender
// measures the sender alone: a process of its own sends through the
// kernel's whole transmit path to a device that drops every datagram
// and counts them (see senderChild); its cpu-ns/event, allocs/op and
// B/op are that process's.
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
	go readUDP(u)
	apart := udpReceiver(b)
	storetest.File(b)
	msgs := storetest.Events(storetest.Pool, time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC))
	for _, tc := range []struct{ name, network, addr, comp string }{
		{"gelf/tcp", "tcp", l.Addr().String(), ""},
		{"gelf/udp", "udp", u.LocalAddr().String(), "auto"},
		{"gelf/udp+gzip", "udp", u.LocalAddr().String(), "gzip"},
		{"gelf/udp-apart", "udp", apart, "auto"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			d, err := gelf.New(gelf.Config{ServiceAddr: tc.addr, Network: tc.network, Compression: tc.comp})
			if err != nil {
				b.Fatal(err)
			}
			storetest.PerEvent(b, d, msgs)
		})
	}
	// udp-sender sends padded events (250-byte raw lines, all of one
	// size), as it has since it was added; udp-sender-realistic the
	// storetest.Realistic ones the other cases send.
	b.Run("gelf/udp-sender", func(b *testing.B) {
		senderPerEvent(b, senderSpec{Compression: "auto", ChunkSize: 8192, Raw: 250})
	})
	b.Run("gelf/udp-sender-realistic", func(b *testing.B) {
		senderPerEvent(b, senderSpec{Compression: "auto", ChunkSize: 8192, Realistic: true})
	})
}

// udpReceiver starts this binary as a UDP receiver in a process of its
// own and returns its address; it stops when the benchmark ends.
func udpReceiver(b *testing.B) string {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "GELF_BENCH_RECEIVER=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	return strings.TrimSpace(addr)
}

// receiveUDP listens on a loopback UDP port, prints its address, and
// reads datagrams 64 per system call until stdin closes.
func receiveUDP() {
	u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		panic(err)
	}
	fmt.Println(u.LocalAddr())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		u.Close()
	}()
	readUDP(u)
}

// readUDP reads and drops datagrams from u, 64 per system call, until u
// is closed.
func readUDP(u *net.UDPConn) {
	_ = u.SetReadBuffer(8 << 20)
	p := ipv4.NewPacketConn(u)
	ms := make([]ipv4.Message, 64)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 65536)}
	}
	for {
		if _, err := p.ReadBatch(ms, 0); err != nil {
			return
		}
	}
}
