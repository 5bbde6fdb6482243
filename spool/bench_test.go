package spool

import (
	"context"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/sluicehq/sluice"
)

// benchDir is where benchmarks write: $SPOOL_BENCH_DIR (a directory on the
// disk to measure), or a temporary directory.
func benchDir(b *testing.B) string {
	if d := os.Getenv("SPOOL_BENCH_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "spoolbench")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return b.TempDir()
}

const benchSenders = 4

var benchBatches = []int{1, 64}

// BenchmarkSpoolWriteRead sends 250-byte records from four goroutines, in
// Sends of batch records, and receives and acks them in another; it
// reports records/s and fsyncs per record.
func BenchmarkSpoolWriteRead(b *testing.B) {
	for _, mode := range []string{SyncBatch, SyncInterval} {
		for _, batch := range benchBatches {
			b.Run(fmt.Sprintf("sync=%s/batch=%d", mode, batch), func(b *testing.B) {
				s, err := New(Config{Dir: benchDir(b), Sync: mode, MaxBytes: 256 << 20, SegmentBytes: 32 << 20})
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				var wg sync.WaitGroup
				wg.Go(func() { s.Run(ctx) })
				defer func() { cancel(); wg.Wait() }()
				payload := make([]byte, 250)
				msgs := make([]sluice.Message[[]byte], batch)
				for i := range msgs {
					msgs[i].Value = payload
				}
				sends := (b.N + batch - 1) / batch
				total := sends * batch
				b.SetBytes(250)
				b.ResetTimer()
				var rwg sync.WaitGroup
				rwg.Go(func() {
					for range total {
						_, ack, err := s.Recv(ctx)
						if err != nil {
							b.Error(err)
							return
						}
						ack()
					}
				})
				var swg sync.WaitGroup
				for g := range benchSenders {
					swg.Go(func() {
						for i := g; i < sends; i += benchSenders {
							if err := s.Send(ctx, nil, msgs...); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				swg.Wait()
				rwg.Wait()
				b.StopTimer()
				b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "records/s")
				b.ReportMetric(float64(s.Stats().Fsyncs)/float64(total), "fsyncs/record")
			})
		}
	}
}

// BenchmarkFsyncCeiling writes the same batches of 250-byte records, with
// the same 24-byte headers, to a plain file with one write and one
// fdatasync per batch: the ceiling of a spool that syncs every batch on
// its own.
func BenchmarkFsyncCeiling(b *testing.B) {
	for _, batch := range benchBatches {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			f, err := os.Create(benchDir(b) + "/ceiling")
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var buf []byte
			payload := make([]byte, 250)
			for i := range batch {
				buf = appendFrame(buf, uint64(i+1), 0, payload)
			}
			sends := (b.N + batch - 1) / batch
			b.SetBytes(250)
			b.ResetTimer()
			for range sends {
				if _, err := f.Write(buf); err != nil {
					b.Fatal(err)
				}
				if err := syscall.Fdatasync(int(f.Fd())); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(sends*batch)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
