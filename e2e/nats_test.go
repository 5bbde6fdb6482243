package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicehq/sluice/internal/brokertest"
)

// natsClient connects a plain nats.go client to Debian's nats-server and
// creates stream name capturing subjects.
func natsClient(t *testing.T, url, name string, subjects ...string) jetstream.JetStream {
	t.Helper()
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: subjects, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	return js
}

// TestNATSSourceCrash: a client publishes numbered lines to a JetStream
// stream on Debian's nats-server while sluiced, consuming it with a
// durable pull consumer, is killed with SIGKILL again and again. Acks go
// to the server only after the file destination synced a line, so a kill
// can duplicate (the server resends after ackWait), never lose.
func TestNATSSourceCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	n, cycles := brokerLines(t, 20000), crashCycles(t, 5)
	url := "nats://" + brokertest.NATS(t).Addr
	js := natsClient(t, url, "LOGS", "logs.>")
	dir := t.TempDir()
	outPath := filepath.Join(dir, "out.ndjson")
	config := fmt.Sprintf(`{
		"dataDir": %q,
		"sources": {"js": {"type": "nats", "url": %q, "stream": "LOGS", "subject": "logs.>", "durable": "e2e", "ackWait": "2s"}},
		"destinations": {"out": {"type": "file", "path": %q, "maxBytes": 0, "batch": {"age": "20ms"}}},
	}`, filepath.Join(dir, "data"), url, outPath)

	var published atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		rate := max(n/8, 1000) // spread over about 8s
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for seq := 0; seq < n; {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for i := 0; i < max(rate/100, 1) && seq < n; i++ {
				if _, err := js.PublishAsync("logs.app", fmt.Appendf(nil, "seq=%010d %060d", seq, 0)); err != nil {
					t.Errorf("publish: %v", err)
					return
				}
				seq++
			}
			published.Store(int64(seq))
		}
		<-js.PublishAsyncComplete()
	})
	t.Cleanup(func() { close(stop); wg.Wait() })
	crashRun(t, dir, config, n, cycles, published.Load, &seqs{path: outPath, parse: fileLineSeq})
}

// TestNATSDestination: 50,000 syslog lines in over TCP, all in the
// stream, read back with an independent consumer.
func TestNATSDestination(t *testing.T) {
	n := 50000
	if testing.Short() {
		n = 5000
	}
	url := "nats://" + brokertest.NATS(t).Addr
	js := natsClient(t, url, "OUT", "out.>")
	dir := t.TempDir()
	sysPort := freePort(t)
	d := start(t, dir, fmt.Sprintf(`{
		"dataDir": %q,
		"sources": {"sys": {"type": "syslog", "addr": "127.0.0.1:%d", "network": "tcp"}},
		"destinations": {"js": {"type": "nats", "url": %q, "subject": "out.syslog"}},
	}`, filepath.Join(dir, "data"), sysPort, url))
	begin := time.Now()
	syslogLines(t, fmt.Sprintf("127.0.0.1:%d", sysPort), n)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, "OUT", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	got := &seqs{}
	for len(got.seen) < n {
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d lines from the stream", len(got.seen), n)
		}
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			for s := range lineSeqs(string(m.Data())).seen {
				got.add(s)
			}
		}
	}
	t.Logf("%d lines read back from the stream in %v, %d duplicates", len(got.seen), time.Since(begin).Round(time.Millisecond), got.dups)
	d.stop(t)
}
