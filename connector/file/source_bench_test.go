//go:build unix

package file_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/cputime"
)

const benchLines = 200_000 // of 250 bytes: 50 MB

// benchInput writes benchLines lines of 250 bytes (newline included) to a
// file in dir.
func benchInput(tb testing.TB, dir string) string {
	tb.Helper()
	path := filepath.Join(dir, "in.log")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	pad := strings.Repeat("x", 249-len("seq=0000000000 "))
	for i := range benchLines {
		fmt.Fprintf(w, "seq=%010d %s\n", i, pad)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	return path
}

// measure runs copy b.N times and reports lines per CPU second (lines/s
// per core) and allocations per line.
func measure(b *testing.B, copy func(b *testing.B, in, out string)) {
	in := benchInput(b, b.TempDir())
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := cputime.Process()
	b.ResetTimer()
	for i := range b.N {
		copy(b, in, filepath.Join(b.TempDir(), fmt.Sprintf("out%d", i)))
	}
	b.StopTimer()
	cpu := cputime.Process() - cpu0
	runtime.ReadMemStats(&ms1)
	lines := float64(b.N * benchLines)
	b.ReportMetric(lines/cpu.Seconds(), "lines/cpu-s")
	b.ReportMetric(lines/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/lines, "allocs/line")
}

// BenchmarkSourceToFile copies a file of 250-byte lines through the file
// source, a Processor and the file destination (raw format, fsync per
// batch), as sluiced does.
func BenchmarkSourceToFile(b *testing.B) { measure(b, sourceToFile) }

// BenchmarkScannerCopy copies the same file with bufio.Scanner and
// bufio.Writer, fsyncing once: the floor.
func BenchmarkScannerCopy(b *testing.B) { measure(b, scannerCopy) }

func sourceToFile(b *testing.B, in, out string) {
	src, err := file.NewSource(file.SourceConfig{Paths: []string{in}, StartAt: "beginning",
		StateDir: filepath.Join(filepath.Dir(out), "state"), PollInterval: 10 * time.Millisecond}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	var written atomic.Int64
	allIn := make(chan struct{})
	var once sync.Once
	dst, err := file.New(file.Config{Path: out, Format: "raw"}, file.WithFlushed(func(n, _ int, _ time.Duration) {
		if written.Add(int64(n)) >= benchLines {
			once.Do(func() { close(allIn) })
		}
	}))
	if err != nil {
		b.Fatal(err)
	}
	p, err := sluice.New(sluice.Config[event.Event, event.Event]{Source: notRunner{src},
		Destination: sluice.DestinationFunc[event.Event](dst.Send), Handler: sluice.Pipe[event.Event]()})
	if err != nil {
		b.Fatal(err)
	}
	srcCtx, stopSrc := context.WithCancel(context.Background())
	dstCtx, stopDst := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Go(func() { errs <- src.Run(srcCtx) })
	var dwg sync.WaitGroup
	dwg.Go(func() { errs <- dst.Run(dstCtx) })
	wg.Go(func() { errs <- p.Run(context.Background()) })
	select {
	case <-allIn:
	case <-time.After(5 * time.Minute):
		b.Error("timed out")
	}
	stopSrc()
	wg.Wait()
	stopDst()
	dwg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			b.Error(err)
		}
	}
}

// notRunner is a source as the Processor sees it in sluiced (a
// BatchSource), but not a Runner: the benchmark runs it.
type notRunner struct {
	sluice.BatchSource[event.Event]
}

func scannerCopy(b *testing.B, in, out string) {
	fi, err := os.Open(in)
	if err != nil {
		b.Fatal(err)
	}
	defer fi.Close()
	fo, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	defer fo.Close()
	sc := bufio.NewScanner(fi)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	w := bufio.NewWriterSize(fo, 1<<20)
	n := 0
	for sc.Scan() {
		w.Write(sc.Bytes())
		w.WriteByte('\n')
		n++
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := fo.Sync(); err != nil {
		b.Fatal(err)
	}
	if n != benchLines {
		b.Fatalf("copied %d lines, want %d", n, benchLines)
	}
}

// TestThroughputRatio runs both benchmarks in one process and logs the
// ratio. Set SLUICE_BENCH=1 to run it.
func TestThroughputRatio(t *testing.T) {
	if os.Getenv("SLUICE_BENCH") != "1" {
		t.Skip("set SLUICE_BENCH=1 to measure throughput")
	}
	src := testing.Benchmark(BenchmarkSourceToFile)
	scan := testing.Benchmark(BenchmarkScannerCopy)
	t.Logf("file source -> file destination: %s %s", src, src.MemString())
	t.Logf("bufio.Scanner copy:              %s %s", scan, scan.MemString())
	r := src.Extra["lines/cpu-s"] / scan.Extra["lines/cpu-s"]
	t.Logf("lines per CPU second: source->file %.0f, scanner %.0f, ratio %.3f (%.1fx slower); allocs/line %.2f vs %.4f",
		src.Extra["lines/cpu-s"], scan.Extra["lines/cpu-s"], r, 1/r, src.Extra["allocs/line"], scan.Extra["allocs/line"])
}
