// Package listentest checks that a source that listens keeps the
// contract the daemon relies on before it logs "running" (daemon.Binder
// and daemon.NotReadier): not ready until its addresses are bound, then
// reachable at once, and an address that cannot be bound reported at its
// config field, never waited for.
package listentest

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Source is a source that listens on TCP addresses it binds in Run.
type Source interface {
	Run(ctx context.Context) error
	Bound() <-chan struct{}
	NotReady() string
}

// Run checks the source that newSource makes to listen on addrs, one
// TCP address for each config field of fields (such as "addr", or
// "grpcAddr" and "httpAddr"):
//
//   - before Run, NotReady is not "" and Bound is open;
//   - once Bound is closed, NotReady is "" and a connection to each
//     address is accepted at the first try (no retry: a sender that
//     waited for the daemon's "running" is never refused);
//   - with one address held by another listener, Run returns an error
//     that wraps EADDRINUSE and whose message holds
//     "FIELD: listen tcp ADDR" (the daemon prefixes the source's path),
//     while Bound stays open and NotReady not "".
func Run(t *testing.T, fields []string, newSource func(t *testing.T, addrs []string) Source) {
	t.Run("bound", func(t *testing.T) {
		addrs := FreeAddrs(t, len(fields))
		s := newSource(t, addrs)
		if why := s.NotReady(); why == "" {
			t.Error("NotReady before Run: got \"\", want a reason")
		}
		select {
		case <-s.Bound():
			t.Fatal("Bound is closed before Run")
		default:
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}()
		select {
		case <-s.Bound():
		case err := <-done:
			done <- err
			t.Fatalf("Run returned before Bound was closed: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("Bound not closed 10s after Run started")
		}
		for i, a := range addrs {
			c, err := net.Dial("tcp", a)
			if err != nil {
				t.Errorf("%s %s: connect right after Bound: %v", fields[i], a, err)
				continue
			}
			c.Close()
		}
		if why := s.NotReady(); why != "" {
			t.Errorf("NotReady once bound: got %q, want \"\"", why)
		}
	})
	for i, field := range fields {
		t.Run(field+" in use", func(t *testing.T) {
			addrs := FreeAddrs(t, len(fields))
			held, err := net.Listen("tcp", addrs[i])
			if err != nil {
				t.Fatal(err)
			}
			defer held.Close()
			s := newSource(t, addrs)
			errc := make(chan error, 1)
			go func() { errc <- s.Run(t.Context()) }()
			select {
			case err = <-errc:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return 10s after it started, with an address in use")
			}
			want := field + ": listen tcp " + addrs[i] + ": bind: address already in use"
			if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, syscall.EADDRINUSE) {
				t.Errorf("Run: got %v, want an error holding %q that wraps EADDRINUSE", err, want)
			}
			select {
			case <-s.Bound():
				t.Error("Bound is closed though Run could not bind")
			default:
			}
			if why := s.NotReady(); why == "" {
				t.Error("NotReady after a failed bind: got \"\", want a reason")
			}
		})
	}
}

// FreeAddrs returns n distinct loopback TCP addresses that were free a
// moment ago.
func FreeAddrs(t testing.TB, n int) []string {
	t.Helper()
	var addrs []string
	var lns []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, l)
		addrs = append(addrs, l.Addr().String())
	}
	for _, l := range lns {
		l.Close()
	}
	return addrs
}
