//go:build unix

package kafka_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/connector/kafka"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/cputime"
)

// The benchmarks compare sluice with a plain franz-go loop doing the same
// work against the same in-process broker, one op per event; compare the
// events/s and allocs/op of the sub-benchmarks of one run:
//
//	go test -run '^$' -bench . -benchtime 300000x -count 5 ./connector/kafka/
//
// KafkaToFile and FileToKafka are the pipelines; Consume and Produce
// isolate the source and the destination from the file connectors.

// BenchmarkKafkaToFile consumes b.N syslog lines in a consumer group and
// writes them to a file, each batch fsynced before its offsets are
// committed: "plain" is a PollFetches, write, fsync, CommitRecords loop;
// "sluice" is the kafka source into the file destination (format raw)
// through a Processor, as sluiced runs them.
func BenchmarkKafkaToFile(b *testing.B) {
	b.Run("plain", func(b *testing.B) {
		c := benchCluster(b)
		cl := client(b, c, kgo.ConsumerGroup("bench"), kgo.ConsumeTopics("in"), kgo.DisableAutoCommit(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		f, err := os.Create(filepath.Join(b.TempDir(), "out"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		w := bufio.NewWriterSize(f, 1<<20)
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		cpuStart = cputime.Process()
		for n := 0; n < b.N; {
			fs := cl.PollFetches(b.Context())
			var recs []*kgo.Record
			fs.EachRecord(func(r *kgo.Record) {
				w.Write(r.Value)
				w.WriteByte('\n')
				recs = append(recs, r)
			})
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			if err := cl.CommitRecords(b.Context(), recs...); err != nil {
				b.Fatal(err)
			}
			n += len(recs)
		}
		report(b, start, time.Now())
	})
	b.Run("sluice", func(b *testing.B) {
		c := benchCluster(b)
		src, err := kafka.NewSource(kafka.SourceConfig{Brokers: c.ListenAddrs(), Topics: []string{"in"}, Group: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		// Batches as large as a poll's, so that both fsync about as often.
		dst, err := file.New(file.Config{Path: filepath.Join(b.TempDir(), "out"), Format: "raw",
			Batch: batch.Config{Count: 1 << 16, Bytes: 8 << 20, Age: 200 * time.Millisecond, Parallelism: 1, Eager: true}})
		if err != nil {
			b.Fatal(err)
		}
		var acked atomic.Int64
		counted := sluice.DestinationFunc[event.Event](func(ctx context.Context, ack func(), msgs ...sluice.Message[event.Event]) error {
			n := int64(len(msgs))
			return dst.Send(ctx, func() { acked.Add(n); sluice.Ack(ack) }, msgs...)
		})
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		cpuStart = cputime.Process()
		end := runPipeline(b, src, counted, func() bool { return acked.Load() >= int64(b.N) }, dst)
		report(b, start, end)
	})
}

// BenchmarkFileToKafka reads b.N syslog lines from a file and produces
// them (acks all, idempotent, snappy), done when the brokers acknowledged
// all: "plain" scans the file and calls Produce per line, then Flush;
// "sluice" is the file source into the kafka destination through a
// Processor.
func BenchmarkFileToKafka(b *testing.B) {
	b.Run("plain", func(b *testing.B) {
		c := newCluster(b, 1, "out")
		path := writeLines(b, b.N)
		cl := client(b, c, kgo.DefaultProduceTopic("out"), kgo.ProducerBatchCompression(kgo.SnappyCompression()), kgo.MaxBufferedRecords(10_000))
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		cpuStart = cputime.Process()
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		var failed atomic.Pointer[error]
		for sc.Scan() {
			cl.Produce(b.Context(), &kgo.Record{Value: append([]byte(nil), sc.Bytes()...)}, func(_ *kgo.Record, err error) {
				if err != nil {
					failed.Store(&err)
				}
			})
		}
		if err := cl.Flush(b.Context()); err != nil {
			b.Fatal(err)
		}
		if err := failed.Load(); err != nil {
			b.Fatal(*err)
		}
		report(b, start, time.Now())
	})
	b.Run("sluice", func(b *testing.B) {
		c := newCluster(b, 1, "out")
		path := writeLines(b, b.N)
		var acked atomic.Int64
		dst, err := kafka.NewDestination(kafka.DestinationConfig{Brokers: c.ListenAddrs(), Topic: "out"},
			kafka.WithDestinationHooks(kafka.DestinationHooks{Acked: func(n, _ int, _ time.Duration) { acked.Add(int64(n)) }}))
		if err != nil {
			b.Fatal(err)
		}
		src, err := file.NewSource(file.SourceConfig{Paths: []string{path}, StartAt: "beginning", StateDir: b.TempDir()}, "bench")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		cpuStart = cputime.Process()
		end := runPipeline(b, src, dst, func() bool { return acked.Load() >= int64(b.N) })
		report(b, start, end)
	})
}

// benchCluster is a cluster whose topic "in" holds b.N syslog lines.
func benchCluster(b *testing.B) *kfake.Cluster {
	c := newCluster(b, 1, "in")
	cl := client(b, c, kgo.DefaultProduceTopic("in"))
	for i := 0; i < b.N; i += 10_000 {
		recs := make([]*kgo.Record, 0, 10_000)
		for j := i; j < min(i+10_000, b.N); j++ {
			recs = append(recs, &kgo.Record{Value: syslogLine(j)})
		}
		if err := cl.ProduceSync(b.Context(), recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	return c
}

// writeLines writes n syslog lines to a new file and returns its path.
func writeLines(b *testing.B, n int) string {
	path := filepath.Join(b.TempDir(), "in.log")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range n {
		w.Write(syslogLine(i))
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// runPipeline runs src → dst in a Processor (which runs their Runners),
// and the extra Runners, until done holds; it returns when done held.
func runPipeline(b *testing.B, src sluice.Source[event.Event], dst sluice.Destination[event.Event], done func() bool, extra ...sluice.Runner) time.Time {
	ctx, cancel := context.WithCancel(b.Context())
	p, err := sluice.New(sluice.Config[event.Event, event.Event]{Source: src, Destination: dst, Handler: sluice.Pipe[event.Event]()})
	if err != nil {
		b.Fatal(err)
	}
	errs := make(chan error, 1+len(extra))
	go func() { errs <- p.Run(ctx) }()
	for _, r := range extra {
		go func() { errs <- r.Run(ctx) }()
	}
	for !done() {
		time.Sleep(time.Millisecond)
	}
	end := time.Now()
	b.StopTimer()
	cancel()
	for range 1 + len(extra) {
		if err := <-errs; err != nil && !errors.Is(err, context.Canceled) {
			b.Fatal(err)
		}
	}
	return end
}

// report reports events/s between start and end, and the CPU time the
// process used per event since the last resetCPU (the in-process broker's
// included: it does the same work for both loops).
func report(b *testing.B, start, end time.Time) {
	b.ReportMetric(float64(b.N)/end.Sub(start).Seconds(), "events/s")
	b.ReportMetric(float64(cputime.Process()-cpuStart)/float64(b.N), "cpu-ns/event")
}

var cpuStart time.Duration

// BenchmarkProduce isolates the destination: b.N syslog lines held in
// memory, produced in Sends of sluice.BatchSize ("sluice") or one Produce
// each with a promise that counts acks ("plain"), done when the brokers
// acknowledged all.
func BenchmarkProduce(b *testing.B) {
	lines := make([][]byte, 1<<14)
	for i := range lines {
		lines[i] = syslogLine(i)
	}
	b.Run("plain", func(b *testing.B) {
		c := newCluster(b, 1, "out")
		cl := client(b, c, kgo.DefaultProduceTopic("out"), kgo.ProducerBatchCompression(kgo.SnappyCompression()), kgo.MaxBufferedRecords(10_000))
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		cpuStart = cputime.Process()
		var acked atomic.Int64
		promise := func(_ *kgo.Record, err error) {
			if err == nil {
				acked.Add(1)
			}
		}
		for i := range b.N {
			cl.Produce(b.Context(), &kgo.Record{Value: lines[i%len(lines)]}, promise)
		}
		if err := cl.Flush(b.Context()); err != nil || acked.Load() != int64(b.N) {
			b.Fatalf("flush: %v; %d of %d acked", err, acked.Load(), b.N)
		}
		report(b, start, time.Now())
	})
	b.Run("sluice", func(b *testing.B) {
		c := newCluster(b, 1, "out")
		var acked atomic.Int64
		dst, err := kafka.NewDestination(kafka.DestinationConfig{Brokers: c.ListenAddrs(), Topic: "out"},
			kafka.WithDestinationHooks(kafka.DestinationHooks{Acked: func(n, _ int, _ time.Duration) { acked.Add(int64(n)) }}))
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(b.Context())
		defer cancel()
		go dst.Run(ctx)
		for dst.NotReady() != "" {
			time.Sleep(time.Millisecond)
		}
		msgs := make([]sluice.Message[event.Event], sluice.BatchSize)
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		cpuStart = cputime.Process()
		for i := 0; i < b.N; i += len(msgs) {
			k := min(len(msgs), b.N-i)
			for j := range k {
				msgs[j].Value.Raw = lines[(i+j)%len(lines)]
			}
			if err := dst.Send(b.Context(), nil, msgs[:k]...); err != nil {
				b.Fatal(err)
			}
		}
		for acked.Load() < int64(b.N) {
			time.Sleep(time.Millisecond)
		}
		report(b, start, time.Now())
	})
}

// BenchmarkConsume isolates the source: b.N lines consumed in a group,
// with nothing written. "plain" commits each poll's records after the
// poll; "sluice" is the source through a Processor into a destination
// that acks at once, committing the acked watermark every second.
func BenchmarkConsume(b *testing.B) {
	b.Run("plain", func(b *testing.B) {
		c := benchCluster(b)
		cl := client(b, c, kgo.ConsumerGroup("bench"), kgo.ConsumeTopics("in"), kgo.DisableAutoCommit(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		cpuStart = cputime.Process()
		for n := 0; n < b.N; {
			var recs []*kgo.Record
			cl.PollFetches(b.Context()).EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
			if err := cl.CommitRecords(b.Context(), recs...); err != nil {
				b.Fatal(err)
			}
			n += len(recs)
		}
		report(b, start, time.Now())
	})
	b.Run("sluice", func(b *testing.B) {
		c := benchCluster(b)
		src, err := kafka.NewSource(kafka.SourceConfig{Brokers: c.ListenAddrs(), Topics: []string{"in"}, Group: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		var acked atomic.Int64
		dst := sluice.DestinationFunc[event.Event](func(_ context.Context, ack func(), msgs ...sluice.Message[event.Event]) error {
			acked.Add(int64(len(msgs)))
			sluice.Ack(ack)
			return nil
		})
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		cpuStart = cputime.Process()
		end := runPipeline(b, src, dst, func() bool { return acked.Load() >= int64(b.N) })
		report(b, start, end)
	})
}
