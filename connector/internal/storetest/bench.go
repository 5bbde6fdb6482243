// Package storetest holds what the store destinations' tests share: the
// benchmark of a store's cost per event beside the file destination's,
// and helpers to run a destination, take its dead letters and wait.
package storetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/cputime"
)

// Destination is a destination that runs.
type Destination interface {
	sluice.Destination[event.Event]
	sluice.Runner
}

// File runs PerEvent on the file destination (fsync per batch, its
// default) twice: plain ("file"), the figure every store's cost is held
// against, and gzipped at level 1 ("file/compression=gzip,level=1",
// klauspost/compress's gzip at the level of every store's gzip,
// connector/internal/store's Gzip), the like-for-like figure for a store
// that compresses. The store cases PerEvent runs after it in the same
// process report their ratios to both (see [Cost.Report]).
func File(b *testing.B) {
	for _, tc := range []struct {
		name, compression string
		runs              *[]Cost
	}{{"file", "none", &fileRuns.plain}, {"file/compression=gzip,level=1", "gzip", &fileRuns.gzip}} {
		b.Run(tc.name, func(b *testing.B) {
			d, err := file.New(file.Config{Path: filepath.Join(b.TempDir(), "out.ndjson"), Compression: tc.compression, CompressionLevel: 1})
			if err != nil {
				b.Fatal(err)
			}
			fileRuns.on = tc.runs
			defer func() { fileRuns.on = nil }()
			PerEvent(b, d, Events(Pool, time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)))
		})
	}
}

// fileRuns holds the file destination's runs in this process, plain and
// gzipped; on is where the running one goes (nil while a store runs).
// Benchmarks run one at a time.
var fileRuns struct {
	plain, gzip []Cost
	on          *[]Cost
}

// Pool is how many distinct events a benchmark sends over and over: far
// more than a gzip window holds (32 KiB), and more than any store's
// default batch, so that neither compression nor a batch sees repeats.
const Pool = 10000

// PerSend is how many events each Send of [PerEvent] and [Measure] gives.
const PerSend = 100

// PerEvent sends b.N events, PerSend per Send (msgs over and over),
// through d while it runs, waits for every ack, and reports events/s and
// the CPU time of the whole process (user+system, every goroutine:
// encoding, compression, the client, and any in-process server) per
// event: one op is one event. It also reports the process's peak RSS so
// far (peak-RSS-MiB): run one case per process (-test.bench with a full
// case name) for a case's own peak.
func PerEvent(b *testing.B, d Destination, msgs []sluice.Message[event.Event]) {
	b.ResetTimer()
	c, err := Measure(d, msgs, b.N)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	c.Report(b)
}

// Cost is what [Measure] measured, from the first Send to the last ack.
type Cost struct {
	Events  int
	Elapsed time.Duration
	CPU     time.Duration // the process's user+system time
	User    time.Duration // the process's user time alone
	Mallocs uint64        // heap allocations (runtime.MemStats.Mallocs)
	Bytes   uint64        // bytes allocated on the heap
	PeakRSS int64         // the process's peak RSS so far, in bytes
}

// Report reports c on b as PerEvent does: events/s, cpu-ns/event,
// peak-RSS-MiB and the whole process's heap allocations per event
// (allocs/event, heap-B/event). After [File] ran in the same process, a
// store's case also reports its CPU per event over the file destination's:
// x-file against the plain file, the goal's figure, and x-file-gzip
// against the gzipped file, like for like for a store that compresses;
// and x-file-user, its user CPU over the plain file's user CPU (also
// reported, as user-ns/event): most of the file destination's CPU is the
// kernel's (writing every event's bytes to the page cache, and fsync),
// which moves with the disk and the load, while a store's is mostly its
// own code's, so x-file-user compares the code alone.
// The file's figure is the median of its runs so far with the most
// events; the testing package's trial runs of one event (all that a run
// of a partly matching -bench pattern gets) do not count.
func (c Cost) Report(b *testing.B) {
	ns := float64(c.CPU.Nanoseconds()) / float64(c.Events)
	user := float64(c.User.Nanoseconds()) / float64(c.Events)
	b.ReportMetric(float64(c.Events)/c.Elapsed.Seconds(), "events/s")
	b.ReportMetric(ns, "cpu-ns/event")
	b.ReportMetric(user, "user-ns/event")
	b.ReportMetric(float64(c.PeakRSS)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(c.Mallocs)/float64(c.Events), "allocs/event")
	b.ReportMetric(float64(c.Bytes)/float64(c.Events), "heap-B/event")
	if fileRuns.on != nil {
		if c.Events > 1 {
			*fileRuns.on = append(*fileRuns.on, c)
		}
		return
	}
	for _, r := range []struct {
		runs []Cost
		of   func(Cost) time.Duration
		ns   float64
		unit string
	}{{fileRuns.plain, cpu, ns, "x-file"}, {fileRuns.gzip, cpu, ns, "x-file-gzip"}, {fileRuns.plain, userCPU, user, "x-file-user"}} {
		if m := median(r.runs, r.of); m > 0 {
			b.ReportMetric(r.ns/m, r.unit)
		}
	}
}

func cpu(c Cost) time.Duration     { return c.CPU }
func userCPU(c Cost) time.Duration { return c.User }

// median returns the median of of(run) ns per event over the runs with
// the most events, or 0 if there are none.
func median(runs []Cost, of func(Cost) time.Duration) float64 {
	n := 0
	for _, c := range runs {
		n = max(n, c.Events)
	}
	var v []float64
	for _, c := range runs {
		if c.Events == n && n > 0 {
			v = append(v, float64(of(c).Nanoseconds())/float64(n))
		}
	}
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return (v[(len(v)-1)/2] + v[len(v)/2]) / 2
}

// Measure runs d, sends it n events, PerSend per Send (msgs over and
// over, from the start), and waits for every ack; it returns the cost of
// the whole process from the first Send to the last ack, and Run's error.
// Once every event is sent and one Send is acked (so d has started), it
// stops d, which flushes what it holds, as a daemon's stop does: a
// destination that cuts batches by age (not eager) would otherwise spend
// its last batch's age idle, which takes no CPU but took from events/s
// (Loki's 1 s of 1.2 s). It is PerEvent without a testing.B, for a
// benchmark that measures in a process of its own.
func Measure(d Destination, msgs []sluice.Message[event.Event], n int) (Cost, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var wg sync.WaitGroup
	var first sync.Once
	started := make(chan struct{})
	ack := func() { first.Do(func() { close(started) }); wg.Done() }
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0, user0, t0 := cputime.Process(), usage().Utime, time.Now()
	for i, k := 0, 0; i < n; {
		if k == len(msgs) {
			k = 0
		}
		m := msgs[k:min(k+PerSend, len(msgs), k+n-i)]
		wg.Add(1)
		if err := d.Send(ctx, ack, m...); err != nil {
			return Cost{}, err
		}
		i, k = i+len(m), k+len(m)
	}
	acked := make(chan struct{})
	go func() { wg.Wait(); close(acked) }()
	select {
	case <-started: // d has started: stop it, which flushes what it holds
	case <-acked:
	case err := <-done:
		return Cost{}, fmt.Errorf("storetest: Run returned before any Send was acked: %v", err)
	}
	cancel()
	ran := false
	var err error
	select {
	case <-acked:
	case err = <-done:
		if err != nil {
			return Cost{}, fmt.Errorf("storetest: Run returned with Sends not acked: %w", err)
		}
		ran = true
		<-acked // Run returns nil only once it flushed everything it was given
	}
	c := Cost{Events: n, Elapsed: time.Since(t0), CPU: cputime.Process() - cpu0}
	user1 := usage().Utime
	c.User = time.Duration(user1.Nano() - user0.Nano())
	runtime.ReadMemStats(&m1)
	c.Mallocs, c.Bytes = m1.Mallocs-m0.Mallocs, m1.TotalAlloc-m0.TotalAlloc
	c.PeakRSS = int64(usage().Maxrss) << 10 // Maxrss is in KiB on Linux
	if !ran {
		err = <-done
	}
	return c, err
}

func usage() syscall.Rusage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru
}

// CountLines reads r to its end in a reused buffer and counts its lines:
// what an in-process server that discards bodies does, at little cost.
func CountLines(r io.Reader) int {
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	n := 0
	for {
		k, err := r.Read(*buf)
		n += bytes.Count((*buf)[:k], []byte{'\n'})
		if err != nil {
			return n
		}
	}
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// Compressions runs f as the sub-benchmark name with the first of
// compressions (the store's default) and as name+"/compression=X" with
// each other X: what each costs beside the default.
func Compressions(b *testing.B, name string, compressions []string, f func(b *testing.B, compression string)) {
	for i, c := range compressions {
		sub := name
		if i > 0 {
			sub += "/compression=" + c
		}
		b.Run(sub, func(b *testing.B) { f(b, c) })
	}
}
