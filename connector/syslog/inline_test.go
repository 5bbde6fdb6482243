package syslog_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/syslog"
	"github.com/sluicehq/sluice/event"
)

// holdingDst records what a Processor sends it, and on which goroutine:
// a Send made by a connection's reading goroutine (the source ran it
// inline) rather than by the Processor's loop. Once hold is armed, the
// first inline Send blocks until release is closed or its ctx is done.
type holdingDst struct {
	mu       sync.Mutex
	got      map[string][]int // seqs by connection
	inline   int              // Sends made on a reading goroutine
	inFlight atomic.Int32
	most     atomic.Int32 // Sends in flight at once, at most

	hold     atomic.Bool
	held     chan struct{} // closed when the held Send has begun
	release  chan struct{}
	returned atomic.Bool // the held Send has returned
}

func newHoldingDst() *holdingDst {
	return &holdingDst{got: map[string][]int{}, held: make(chan struct{}), release: make(chan struct{})}
}

func (d *holdingDst) Send(ctx context.Context, ack func(), msgs ...sluice.Message[event.Event]) error {
	k := d.inFlight.Add(1)
	defer d.inFlight.Add(-1)
	for m := d.most.Load(); k > m && !d.most.CompareAndSwap(m, k); m = d.most.Load() {
	}
	buf := make([]byte, 64<<10)
	inline := strings.Contains(string(buf[:runtime.Stack(buf, false)]), "syslog.(*Source).serve")
	if inline && d.hold.CompareAndSwap(true, false) {
		close(d.held)
		defer d.returned.Store(true)
		select {
		case <-d.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if inline {
		d.inline++
	}
	for _, m := range msgs {
		var conn string
		var seq int
		if _, err := fmt.Sscanf(m.Value.Syslog.Message, "%s %d", &conn, &seq); err != nil {
			return fmt.Errorf("message %q: %w", m.Value.Syslog.Message, err)
		}
		d.got[conn] = append(d.got[conn], seq)
	}
	sluice.Ack(ack)
	return nil
}

func (d *holdingDst) count(conn string) (n, inline int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.got[conn]), d.inline
}

// line writes connection conn's message seq to c.
func line(t *testing.T, c net.Conn, conn string, seq int) {
	t.Helper()
	if _, err := fmt.Fprintf(c, "<14>1 2026-11-24T10:00:00Z host app - - - %s %d\n", conn, seq); err != nil {
		t.Fatal(err)
	}
}

// startInline runs a Processor from a syslog TCP source to d with
// parallelism loops, until ctx is done; it returns the address and Run's
// result.
func startInline(t *testing.T, ctx context.Context, d *holdingDst, parallelism int) (net.Addr, chan error) {
	t.Helper()
	src, err := syslog.New(syslog.Config{Network: "tcp", Addr: "127.0.0.1:0"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	p, err := sluice.New(sluice.Config[event.Event, event.Event]{Source: src, Destination: d, Handler: sluice.Pipe[event.Event]()},
		sluice.Parallelism(parallelism))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	addrs, err := src.Addrs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return addrs[0], done
}

// sendUntilInline writes conn's messages from seq on, one at a time,
// each once the previous one was sent on, until a Send runs on the
// reading goroutine (the Processor's loop was parked), or one is held; it
// returns the next seq.
func sendUntilInline(t *testing.T, d *holdingDst, c net.Conn, conn string, seq int) int {
	t.Helper()
	for start := seq; ; seq++ {
		if seq-start == 1000 {
			t.Fatal("1000 messages sent one at a time, none sent on by its reading goroutine")
		}
		_, before := d.count(conn)
		line(t, c, conn, seq)
		waitFor(t, func() bool { n, _ := d.count(conn); return n == seq+1 || d.isHeld() })
		if _, after := d.count(conn); after > before || d.isHeld() {
			return seq + 1
		}
	}
}

func (d *holdingDst) isHeld() bool {
	select {
	case <-d.held:
		return true
	default:
		return false
	}
}

// The dangerous moment of run-to-completion: a connection's reader sends
// its events on itself and the destination blocks there. Meanwhile a
// second connection arrives and sends. With one loop, its events wait,
// and every event of both arrives once, in each connection's order, once
// the destination takes them; with two loops, the second connection's
// events go through the other loop at once. Sends never overlap beyond
// the parallelism.
func TestInlineSendBlocked(t *testing.T) {
	for _, parallelism := range []int{1, 2} {
		t.Run(fmt.Sprint("parallelism ", parallelism), func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			d := newHoldingDst()
			addr, done := startInline(t, ctx, d, parallelism)
			c1, err := net.Dial("tcp", addr.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c1.Close()
			d.hold.Store(true)
			next := sendUntilInline(t, d, c1, "c1", 0)
			<-d.held
			for i := range 20 { // queued behind the held Send, in the socket or the queue
				line(t, c1, "c1", next+i)
			}
			c2, err := net.Dial("tcp", addr.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c2.Close()
			for i := range 100 {
				line(t, c2, "c2", i)
			}
			if parallelism == 2 {
				waitFor(t, func() bool { n, _ := d.count("c2"); return n == 100 })
			}
			close(d.release)
			waitFor(t, func() bool { n, _ := d.count("c1"); m, _ := d.count("c2"); return n == next+20 && m == 100 })
			if m := d.most.Load(); m > int32(parallelism) {
				t.Errorf("%d Sends at once, parallelism %d", m, parallelism)
			}
			d.mu.Lock()
			for conn, seqs := range d.got {
				for i, s := range seqs {
					if s != i {
						t.Errorf("%s: event %d has seq %d: lost, duplicated or out of order", conn, i, s)
						break
					}
				}
			}
			d.mu.Unlock()
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}

// Stopping the Processor while a reader's inline Send is held: Send sees
// ctx done, and Run returns only after it has returned, without error.
func TestInlineSendCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	d := newHoldingDst()
	addr, done := startInline(t, ctx, d, 1)
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d.hold.Store(true)
	sendUntilInline(t, d, c, "c", 0)
	<-d.held
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !d.returned.Load() {
		t.Fatal("Run returned while a Send it made was still running")
	}
}
