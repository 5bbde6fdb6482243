package brokertest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// Payload is what the broker benchmarks send: a 240-byte RFC 5424 line.
var Payload = []byte(fmt.Sprintf("<134>1 2026-01-02T03:04:05.000006Z web01 app 42 ID7 - %0180d", 0))

// PerEvent reports b's events/s, one op being one event.
func PerEvent(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchSource times s taking b.N messages already at the broker: it runs
// s, receives in batches of [sluice.BatchSize] and acks each message, then
// reports events/s and stops s.
func BenchSource(b *testing.B, s interface {
	sluice.BatchSource[event.Event]
	sluice.Runner
}) {
	b.Helper()
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
	PerEvent(b)
	cancel()
	<-done
}

// BenchDestination times d sending b.N events of [Payload] in Sends of
// [sluice.BatchSize] until all are acked: it runs d, waits until it is
// ready, then reports events/s and stops d.
func BenchDestination(b *testing.B, d interface {
	sluice.Destination[event.Event]
	sluice.Runner
	NotReady() string
}) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	WaitReady(b, d)
	msgs := make([]sluice.Message[event.Event], sluice.BatchSize)
	for i := range msgs {
		msgs[i].Value.Raw = Payload
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
	PerEvent(b)
	cancel()
	<-done
}
