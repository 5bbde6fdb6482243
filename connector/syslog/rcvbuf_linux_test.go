package syslog

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// setReadBuffer gets the size asked for past net.core.rmem_max where the
// process may (as root, which CI is), and the capped size otherwise.
func TestSetReadBuffer(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Skip("no /proc/sys/net/core/rmem_max:", err)
	}
	rmemMax, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	n := 2*rmemMax + 4096 // more than SO_RCVBUF alone may give
	got := setReadBuffer(pc, n)
	want := 2 * rmemMax // the kernel reports twice the size it grants
	admin := netAdmin(t)
	if admin {
		want = 2 * n
	}
	if got != want {
		t.Errorf("asked for %d bytes (rmem_max %d, CAP_NET_ADMIN %v): the kernel reports %d, want %d", n, rmemMax, admin, got, want)
	}
}

// netAdmin reports whether the process has CAP_NET_ADMIN (bit 12 of
// CapEff in /proc/self/status).
func netAdmin(t *testing.T) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return caps&(1<<12) != 0
		}
	}
	t.Fatal("no CapEff in /proc/self/status")
	return false
}
