package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicehq/sluice/internal/brokertest"
)

// TestNATSDestinationKill creates the dangerous moment of a JetStream
// destination (file source -> sluiced -> nats-server): a proxy between
// sluiced and the server counts the PubAcks the server sends, holds the
// holdAt-th and everything after it in both directions, and SIGKILLs
// sluiced a second later (twenty checkpoint intervals): the held
// message is stored, its PubAck never reaches sluiced, and what sluiced
// published after it never reaches the server. A destination that acked
// before the PubAck would have its events checkpointed by then. After a
// restart without the hold, every line must be in the stream: none
// missing, duplicates counted.
func TestNATSDestinationKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	const (
		n       = 20_000
		holdAt  = 3000
		holdFor = time.Second
	)
	server := brokertest.NATS(t)
	js := natsClient(t, "nats://"+server.Addr, "OUT", "out.>")
	p := &pubAckHold{server: server.Addr, holdAt: holdAt, held: make(chan struct{})}
	proxy := p.listen(t)

	dir := t.TempDir()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "seq=%06d nats destination kill %s\n", i, strings.Repeat("x", 100+i%100))
	}
	logPath := filepath.Join(dir, "app.log")
	if err := os.WriteFile(logPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	config := func(url string) string {
		return fmt.Sprintf(`{
		"dataDir": "data",
		"shutdownTimeout": "10s",
		"sources": {"log": {"type": "file", "paths": [%q], "startAt": "beginning", "pollInterval": "20ms", "checkpointInterval": "50ms"}},
		"destinations": {"js": {"type": "nats", "url": %q, "subject": "out.log"}},
	}`, logPath, url)
	}
	d := start(t, dir, config("nats://"+proxy))
	select {
	case <-p.held:
	case <-time.After(60 * time.Second):
		t.Fatalf("PubAck %d never came: %d PubAcks", holdAt, p.acks.Load())
	}
	time.Sleep(holdFor)
	d.kill()
	stored := streamSeqs(t, js, "OUT")
	t.Logf("SIGKILL with PubAck %d held: %d distinct lines in the stream", holdAt, len(stored))
	if len(stored) < holdAt || len(stored) >= n {
		t.Fatalf("%d lines in the stream at the kill, want at least the %d PubAcked and fewer than %d: the test did not create its moment", len(stored), holdAt, n)
	}

	d = start(t, dir, config("nats://"+server.Addr))
	// Wait for every line; a loss shows as lines still missing after 30s.
	for deadline := time.Now().Add(30 * time.Second); len(streamSeqs(t, js, "OUT")) < n && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	d.stop(t)
	in := streamSeqs(t, js, "OUT")
	missing, dups := 0, 0
	for i := range int64(n) {
		if in[i] == 0 {
			missing++
		}
		dups += max(in[i]-1, 0)
	}
	t.Logf("%d lines, a SIGKILL with a PubAck held: %d missing, %d published again", n, missing, dups)
	if missing > 0 || len(in) != n {
		t.Errorf("%d of %d lines missing from the stream after a SIGKILL with a PubAck held (%d distinct seqs)", missing, n, len(in))
	}
}

// pubAckHold is a TCP proxy to a nats-server that, at the holdAt-th
// PubAck from the server, stops forwarding in both directions.
type pubAckHold struct {
	server string
	holdAt int64
	acks   atomic.Int64
	frozen atomic.Bool
	held   chan struct{} // closed at the hold
	once   sync.Once
}

func (p *pubAckHold) listen(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.server)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); s.Close() })
			go p.toServer(c, s)
			go p.toClient(s, c)
		}
	}()
	return ln.Addr().String()
}

// toServer forwards the client's bytes until the hold, then drops them.
func (p *pubAckHold) toServer(c, s net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if !p.frozen.Load() {
			if _, err := s.Write(buf[:n]); err != nil {
				return
			}
		}
	}
}

// toClient forwards the server's protocol a frame at a time (MSG and
// HMSG with their payloads), counting PubAcks, and forwards nothing from
// the holdAt-th on.
func (p *pubAckHold) toClient(s, c net.Conn) {
	r := bufio.NewReader(s)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		frame := line
		if bytes.HasPrefix(line, []byte("MSG ")) || bytes.HasPrefix(line, []byte("HMSG ")) {
			f := strings.Fields(string(line))
			size, err := strconv.Atoi(f[len(f)-1])
			if err != nil {
				return
			}
			payload := make([]byte, size+2)
			if _, err := io.ReadFull(r, payload); err != nil {
				return
			}
			frame = append(frame, payload...)
			if bytes.Contains(payload, []byte(`"stream":"OUT"`)) && p.acks.Add(1) == p.holdAt {
				p.frozen.Store(true)
				p.once.Do(func() { close(p.held) })
			}
		}
		if p.frozen.Load() {
			continue
		}
		if _, err := c.Write(frame); err != nil {
			return
		}
	}
}

// streamSeqs reads every message of stream and counts each line's
// copies.
func streamSeqs(t *testing.T, js jetstream.JetStream, stream string) map[int64]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]int{}
	if info.State.Msgs == 0 {
		return seen
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for read := uint64(0); read < info.State.Msgs; {
		batch, err := cons.Fetch(int(min(info.State.Msgs-read, 1000)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			seen[lineSeq(t, m.Data())]++
			read++
		}
		if err := batch.Error(); err != nil {
			t.Fatal(err)
		}
	}
	return seen
}
