package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

type adminLogs struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *adminLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *adminLogs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// keepAlive is a client connection that made one request and now idles.
func keepAlive(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return c
}

// closedWithin reports whether the server closes c within d.
func closedWithin(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

// The admin listener's bounds: idle keep-alive connections are closed,
// and one connection over the limit evicts the one idle longest.
func TestAdminConnectionLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		max  int
		idle time.Duration
		run  func(t *testing.T, addr string)
	}{
		{"keep-alive idle for the idle timeout", 64, 300 * time.Millisecond, func(t *testing.T, addr string) {
			if !closedWithin(keepAlive(t, addr), 10*time.Second) {
				t.Error("an idle keep-alive connection is open after 10s")
			}
		}},
		{"connections over the limit", 2, time.Hour, func(t *testing.T, addr string) {
			// Which of the two idle connections waited longest is the
			// server's view (when its goroutine marked each idle after
			// answering), which a loaded machine can order either way;
			// connlimit's own tests check the order. Here: the third
			// client is served, and an idle connection made room.
			idle := []net.Conn{keepAlive(t, addr), keepAlive(t, addr)}
			resp, err := (&http.Client{Transport: &http.Transport{}}).Get("http://" + addr + "/healthz")
			if err != nil {
				t.Fatalf("a third client: %v", err)
			}
			resp.Body.Close()
			closed := make(chan bool, len(idle))
			for _, c := range idle {
				go func() { closed <- closedWithin(c, 10*time.Second) }()
			}
			evicted := false
			for range idle {
				if evicted = <-closed; evicted {
					break
				}
			}
			if !evicted {
				t.Error("no idle connection was closed within 10s to make room for a third")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oldMax, oldIdle := adminMaxConns, adminIdleTimeout
			adminMaxConns, adminIdleTimeout = tc.max, tc.idle
			t.Cleanup(func() { adminMaxConns, adminIdleTimeout = oldMax, oldIdle })
			var logs adminLogs
			ctx, cancel := context.WithCancel(context.Background())
			wait, err := serveAdmin(ctx, &AdminConfig{Addr: "127.0.0.1:0"}, newMetricSet(), &runState{}, http.NotFoundHandler(),
				slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cancel(); wait() })
			m := regexp.MustCompile(`addr=(\S+)`).FindStringSubmatch(logs.String())
			if m == nil {
				t.Fatalf("no address logged: %s", logs.String())
			}
			tc.run(t, m[1])
		})
	}
}
