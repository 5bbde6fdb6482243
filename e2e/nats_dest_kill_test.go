package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicehq/sluice/internal/brokertest"
)

// TestNATSDestinationKill SIGKILLs sluiced while nats-server's PubAck to
// its nats destination is held; see [ackHoldKill].
func TestNATSDestinationKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	server := brokertest.NATS(t)
	js := natsClient(t, "nats://"+server.Addr, "OUT", "out.>")
	ackHoldKill(t, server.Addr, "PubAck", natsFrame(`"stream":"OUT"`),
		func(addr string) string {
			return fmt.Sprintf(`{"type": "nats", "url": "nats://%s", "subject": "out.log"}`, addr)
		},
		func() map[int64]int { return streamSeqs(t, js, "OUT") })
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
