package connlimit_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/connlimit"
)

// closed reports whether the server closed c (a read returns EOF or a
// reset) within 10s.
func closed(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

// Over the limit, a new connection evicts the one waiting longest for a
// request, or is closed if every one is busy; without eviction it is
// always closed.
func TestListener(t *testing.T) {
	for _, tc := range []struct {
		name   string
		evict  bool
		busy   bool // the open connections have a request in progress
		refuse bool // the third connection is closed, not the first
	}{
		{"idle connections evicted", true, false, false},
		{"busy connections kept", true, true, true},
		{"no eviction without ConnState", false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ln := connlimit.New(raw, 2)
			var mu sync.Mutex
			var refused, evicted int
			ln.Refused = func(net.Addr) { mu.Lock(); refused++; mu.Unlock() }
			ln.Evicted = func(net.Addr, time.Duration) { mu.Lock(); evicted++; mu.Unlock() }
			release, entered := make(chan struct{}), make(chan struct{}, 2)
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				entered <- struct{}{}
				<-release
			})}
			if tc.evict {
				srv.ConnState = ln.EvictWaiting()
			}
			go srv.Serve(ln)
			t.Cleanup(func() { close(release); srv.Close() })

			var cs []net.Conn
			for i := range 3 {
				c, err := net.Dial("tcp", raw.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				if tc.busy && i < 2 {
					fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
					<-entered // its handler runs: the connection is busy
				}
				for deadline := time.Now().Add(10 * time.Second); ln.Open() < min(i+1, 2); {
					if time.Now().After(deadline) {
						t.Fatalf("connection %d not taken", i)
					}
					time.Sleep(5 * time.Millisecond)
				}
				cs = append(cs, c)
			}
			want := cs[0]
			if tc.refuse {
				want = cs[2]
			}
			if !closed(t, want) {
				t.Error("the connection that should be closed is open")
			}
			mu.Lock()
			defer mu.Unlock()
			if tc.refuse && (refused != 1 || evicted != 0) || !tc.refuse && (refused != 0 || evicted != 1) {
				t.Errorf("refused %d, evicted %d", refused, evicted)
			}
			if n := ln.Open(); n != 2 {
				t.Errorf("%d open, want 2", n)
			}
		})
	}
}
