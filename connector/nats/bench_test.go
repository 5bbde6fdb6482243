package nats

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicehq/sluice/internal/brokertest"
)

// The benchmarks compare the connectors with a plain nats.go loop doing
// the same work against the same (embedded) server: one op is one event.
// Run them side by side, as ratios:
//
//	go test -run '^$' -bench . -benchmem ./connector/nats/

// benchStream starts a server with stream LOGS holding n messages.
func benchStream(b *testing.B, n int) (string, jetstream.JetStream) {
	_, url := embedded(b, b.TempDir(), 0)
	_, js := client(b, url)
	stream(b, js, "LOGS", "logs.>")
	for i := range n {
		if _, err := js.PublishAsync("logs.app", brokertest.Payload); err != nil {
			b.Fatal(err)
		}
		if i%4000 == 3999 {
			<-js.PublishAsyncComplete()
		}
	}
	<-js.PublishAsyncComplete()
	return url, js
}

// BenchmarkSource: the source takes b.N stored messages in batches and
// acks each.
func BenchmarkSource(b *testing.B) {
	url, _ := benchStream(b, b.N)
	c := DefaultSourceConfig()
	c.URL, c.Stream, c.Durable = url, "LOGS", "bench"
	s, err := NewSource(c, "bench")
	if err != nil {
		b.Fatal(err)
	}
	brokertest.BenchSource(b, s)
}

// BenchmarkPlainConsume is the plain loop: a durable pull consumer with
// the same settings, Messages and Ack.
func BenchmarkPlainConsume(b *testing.B) {
	_, js := benchStream(b, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	cons, err := js.CreateOrUpdateConsumer(context.Background(), "LOGS", jetstream.ConsumerConfig{
		Durable: "plain", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: DefaultMaxAckPending, AckWait: DefaultAckWait})
	if err != nil {
		b.Fatal(err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(DefaultFetchBatch))
	if err != nil {
		b.Fatal(err)
	}
	for got := 0; got < b.N; {
		m, err := it.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			b.Fatal(err)
		}
		if err != nil {
			continue // a missed heartbeat under load: the iterator pulls again, as the source does
		}
		_ = m.Ack()
		got++
	}
	b.StopTimer()
	brokertest.PerEvent(b)
	it.Stop()
}

// BenchmarkDestination: b.N events in Sends of 256, each acked on the
// stream's PubAcks.
func BenchmarkDestination(b *testing.B) {
	url, _ := benchStream(b, 0)
	c := DefaultDestinationConfig()
	c.URL, c.Subject = url, "logs.out"
	d, err := NewDestination(c, "bench")
	if err != nil {
		b.Fatal(err)
	}
	brokertest.BenchDestination(b, d)
}

// BenchmarkPlainPublish is the plain loop: PublishAsync, waiting for the
// PubAcks every 1000 messages.
func BenchmarkPlainPublish(b *testing.B) {
	_, js := benchStream(b, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := js.PublishAsync("logs.out", brokertest.Payload); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 || i == b.N-1 {
			<-js.PublishAsyncComplete()
		}
	}
	b.StopTimer()
	brokertest.PerEvent(b)
}
