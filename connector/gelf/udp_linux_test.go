package gelf

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// TestUDPConnRefused checks that the writer's own UDP socket reports the
// ICMP "port unreachable" of an earlier datagram as ECONNREFUSED on a
// later send, as a net.UDPConn does (the writer retries on it).
func TestUDPConnRefused(t *testing.T) {
	u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := u.LocalAddr().String()
	u.Close() // nothing listens there now
	c, err := dialUDP(context.Background(), &net.Dialer{}, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ms := []ipv4.Message{{Buffers: [][]byte{[]byte(`{"version":"1.1"}`)}}}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		_, err := c.(*udpConn).WriteBatch(ms, 0)
		if errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		if err != nil {
			t.Fatalf("got %v, want ECONNREFUSED", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("no ECONNREFUSED after a minute of sends to a closed port")
		}
	}
}
