package e2e

import (
	"context"
	"fmt"
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
	p := &ackHold{server: server.Addr, holdAt: holdAt, next: natsFrame(`"stream":"OUT"`), held: make(chan struct{})}
	proxy := p.listen(t)

	dir := t.TempDir()
	logPath := seqLog(t, dir, n, "nats destination kill")
	config := func(url string) string {
		return holdKillConfig(logPath, fmt.Sprintf(`{"type": "nats", "url": %q, "subject": "out.log"}`, url))
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
	waitAll(n, func() int { return len(streamSeqs(t, js, "OUT")) })
	d.stop(t)
	checkAllSent(t, streamSeqs(t, js, "OUT"), n, "a SIGKILL with a PubAck held")
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
