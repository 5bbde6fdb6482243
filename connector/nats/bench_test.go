package nats

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// The benchmarks compare the connectors with a plain nats.go loop doing
// the same work against the same (embedded) server: one op is one event.
// Run them side by side, as ratios:
//
//	go test -run '^$' -bench . -benchmem ./connector/nats/

var benchPayload = []byte(fmt.Sprintf("<134>1 2026-01-02T03:04:05.000006Z web01 app 42 ID7 - %0180d", 0))

func perEvent(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// benchStream starts a server with stream LOGS holding n messages.
func benchStream(b *testing.B, n int) (string, jetstream.JetStream) {
	_, url := embedded(b, b.TempDir(), 0)
	_, js := client(b, url)
	stream(b, js, "LOGS", "logs.>")
	for i := range n {
		if _, err := js.PublishAsync("logs.app", benchPayload); err != nil {
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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	go func() { done <- s.Run(ctx) }()
	msgs := make([]sluice.Message[event.Event], sluice.BatchSize)
	acks := make([]func(), sluice.BatchSize)
	for got := 0; got < b.N; {
		n, err := s.RecvBatch(ctx, msgs, acks)
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range acks[:n] {
			a()
		}
		got += n
	}
	b.StopTimer()
	perEvent(b)
	cancel()
	<-done
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
	perEvent(b)
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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	msgs := make([]sluice.Message[event.Event], sluice.BatchSize)
	for i := range msgs {
		msgs[i].Value.Raw = benchPayload
	}
	var acked atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += len(msgs) {
		k := min(len(msgs), b.N-sent)
		if err := d.Send(ctx, func() { acked.Add(int64(k)) }, msgs[:k]...); err != nil {
			b.Fatal(err)
		}
	}
	for acked.Load() < int64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	perEvent(b)
	cancel()
	<-done
}

// BenchmarkPlainPublish is the plain loop: PublishAsync, waiting for the
// PubAcks every 1000 messages.
func BenchmarkPlainPublish(b *testing.B) {
	_, js := benchStream(b, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := js.PublishAsync("logs.out", benchPayload); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 || i == b.N-1 {
			<-js.PublishAsyncComplete()
		}
	}
	b.StopTimer()
	perEvent(b)
}
