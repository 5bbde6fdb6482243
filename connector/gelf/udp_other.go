//go:build !linux

package gelf

import (
	"context"
	"net"
)

// dialUDP dials addr with d.
func dialUDP(ctx context.Context, d *net.Dialer, addr string) (conn, error) {
	return d.DialContext(ctx, "udp", addr)
}
