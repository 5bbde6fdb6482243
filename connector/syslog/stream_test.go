package syslog_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/syslog"
	"github.com/sluicehq/sluice/internal/fdlimit"
)

// logBuffer is a slog destination safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// 1,100 idle connections (crashed senders, half-open sockets) with the
// default maxConnections of 1024 do not lock out a new sender: each
// connection beyond the limit evicts the longest idle one, counted (and
// logged once).
func TestIdleConnectionsDoNotLockOut(t *testing.T) {
	const idle = 1100
	fdlimit.Need(t, 2*idle+200) // both ends of each connection are in this process
	cs := &counts{errors: map[string]int{}}
	logs := &logBuffer{}
	s, addrs := start(t, syslog.Config{Addr: "127.0.0.1:0", Network: "tcp"}, syslog.WithCounters(cs),
		syslog.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	max := syslog.DefaultConfig().MaxConnections
	conns := make([]net.Conn, 0, idle)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range idle {
		c, err := net.Dial("tcp", addrs[0].String())
		if err != nil {
			t.Fatalf("dial after %d connections: %v", len(conns), err)
		}
		conns = append(conns, c)
	}

	sender, err := net.Dial("tcp", addrs[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	const lines = 100
	for i := range lines {
		fmt.Fprintf(sender, "<13>1 - - - - - - line %d\n", i)
	}
	for i := range lines {
		if ev := recv(t, s); ev.Syslog.Message != fmt.Sprintf("line %d", i) {
			t.Fatalf("event %d: got %q", i, ev.Syslog.Message)
		}
	}
	// Every connection was accepted in order, so every eviction happened
	// before the sender's lines were read.
	wantEvicted := idle + 1 - max
	if n := cs.get("evicted"); n != wantEvicted {
		t.Errorf("evictions counted: %d, want %d", n, wantEvicted)
	}
	if n := cs.get("too_many_connections"); n != 0 {
		t.Errorf("%d connections refused, want 0", n)
	}
	// Logged once: the line is rate-limited (the counter has them all).
	if n := strings.Count(logs.String(), "connection evicted"); n != 1 {
		t.Errorf("%d evictions logged, want 1", n)
	}
	// The evicted connections are closed by the server; the others stay
	// open (their reads end at the deadline).
	var closed atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(2 * time.Second)
	for _, c := range conns {
		wg.Go(func() {
			_ = c.SetReadDeadline(deadline)
			if _, err := c.Read(make([]byte, 1)); errors.Is(err, io.EOF) {
				closed.Add(1)
			} else if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("read from an idle connection: %v", err)
			}
		})
	}
	wg.Wait()
	if n := int(closed.Load()); n != wantEvicted {
		t.Errorf("%d idle connections closed by the server, want %d", n, wantEvicted)
	}
}

// A connection that ends inside a frame, by the sender's close or by
// the idle timeout, has its partial message counted as dropped and logged;
// the frames before it are delivered.
func TestIncompleteFrameCounted(t *testing.T) {
	for _, tc := range []struct {
		name     string
		send     string
		idle     bool // wait for the idle timeout rather than close
		want     []string
		dropped  int
		logBytes string
	}{
		{"octet frame cut short", "5 <13>a100 <13>1 - - - - - - cut", false, []string{"<13>a"}, 1, "bytes=25"},
		{"octet count cut short", "5 <13>a12", false, []string{"<13>a"}, 1, "bytes=2"},
		{"line cut by the idle timeout", "<13>1 - - - - - - whole\n<13>1 - - - - - - no LF yet", true, []string{"<13>1 - - - - - - whole"}, 1, "bytes=27"},
		{"octet frame cut by the idle timeout", "20 <13>1 - -", true, nil, 1, "bytes=12"},
		{"closed between frames", "5 <13>a5 <13>b", false, []string{"<13>a", "<13>b"}, 0, ""},
		{"last line without LF is whole", "<13>1 - - - - - - last", false, []string{"<13>1 - - - - - - last"}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := &counts{errors: map[string]int{}}
			logs := &logBuffer{}
			s, addrs := start(t, syslog.Config{Addr: "127.0.0.1:0", Network: "tcp", Format: "none", IdleTimeout: 200 * time.Millisecond},
				syslog.WithCounters(cs), syslog.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
			c, err := net.Dial("tcp", addrs[0].String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, tc.send); err != nil {
				t.Fatal(err)
			}
			if tc.idle {
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
					t.Fatalf("read = %v, want EOF from the server's idle close", err)
				}
			} else {
				c.Close()
			}
			for i, want := range tc.want {
				if ev := recv(t, s); string(ev.Raw) != want {
					t.Errorf("event %d: got %q, want %q", i, ev.Raw, want)
				}
			}
			waitFor(t, func() bool {
				return cs.get("dropped:incomplete_frame") >= tc.dropped && (tc.dropped == 0 || strings.Contains(logs.String(), "ended inside a frame"))
			})
			if tc.dropped == 0 {
				// The handler has ended once the connection is gone from the
				// source's count; a second connection shows it.
				c2, err := net.Dial("tcp", addrs[0].String())
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprint(c2, "<13>1 - - - - - - probe\n")
				recv(t, s)
				c2.Close()
			}
			if n := cs.get("dropped:incomplete_frame"); n != tc.dropped {
				t.Errorf("incomplete frames counted: %d, want %d", n, tc.dropped)
			}
			log := logs.String()
			if got := strings.Contains(log, "ended inside a frame"); got != (tc.dropped > 0) || !strings.Contains(log, tc.logBytes) {
				t.Errorf("log %q: want a line about a partial frame (%v) with %q", log, tc.dropped > 0, tc.logBytes)
			}
		})
	}
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
