// Command otlp benchmarks sluiced's OTLP source and destination against
// the baselines of issue 16 (BENCH.md O1, O2), in one run:
//
//	receive  sluiced (otlp gRPC source → file, fsync per batch) against a
//	         plain pdata gRPC server that decodes and counts records; the
//	         same client sends the same requests to each, waiting for OK.
//	export   sluiced (file source → otlp gRPC destination) against the OTel
//	         SDK's BatchProcessor + otlploggrpc exporter, sending the same
//	         records to the same counting pdata sink.
//
// Each subject runs as its own process; its CPU seconds (utime+stime) and
// peak RSS (VmHWM) are read from /proc just before it is stopped. Replicas
// are interleaved; the median is reported with the spread.
//
//	go run ./bench/otlp -records 300000 -replicas 3
//	go run ./bench/otlp -only receive -compare /tmp/sluiced-main   # before/after
//	go run ./bench/otlp -only sluiced -profile /tmp/prof -records 600000
package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/sluicehq/sluice/bench/internal/benchproc"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

var (
	records     = flag.Int("records", 200000, "records per replica")
	batch       = flag.Int("batch", 512, "records per request (client and SDK batch size)")
	conns       = flag.Int("conns", 4, "concurrent client requests (receive)")
	replicas    = flag.Int("replicas", 3, "replicas of each subject; the median is reported")
	outdir      = flag.String("outdir", "/dev/shm", "directory for sluiced's files")
	profile     = flag.String("profile", "", "directory: save CPU, block and mutex profiles of sluiced's receive runs there (pprof on its admin listener)")
	profileSecs = flag.Int("profile-seconds", 2, "with -profile: how long the CPU profile runs")
	compare     = flag.String("compare", "", "a sluiced binary to run as a second receive subject (such as one built from main), for before/after in one run")
	fileFormat  = flag.String("file-format", "json", "the file destination's format for receive: json (the event, raw as a string) or raw (the record's JSON)")
	only        = flag.String("only", "", "run only the subjects whose name contains this (receive, export)")
	role        = flag.String("role", "", "internal: sink or sdk")
	addr        = flag.String("addr", "", "internal: the sink's gRPC address (sink: listen; sdk: send to)")
)

func main() {
	flag.Parse()
	switch *role {
	case "sink":
		runSink(*addr)
		return
	case "sdk":
		runSDK(*addr, *records, *batch)
		return
	}
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

// body is the body of record i, about 100 bytes as a typical log line.
func body(i int) string {
	return fmt.Sprintf("GET /api/v1/orders/%09d 200 1532 \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\" rt=0.012 upstream=10.0.0.7", i)
}

// counter is a pdata gRPC server that decodes requests and counts their
// records; /count on the HTTP address tells the driver.
type counter struct {
	plogotlp.UnimplementedGRPCServer
	n atomic.Int64
}

func (c *counter) Export(_ context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	c.n.Add(int64(req.Logs().LogRecordCount()))
	return plogotlp.NewExportResponse(), nil
}

// runSink serves the counter on addr (gRPC) and addr's port+1 (HTTP /count).
func runSink(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	c := &counter{}
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(16 << 20))
	plogotlp.RegisterGRPCServer(gs, c)
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	go func() {
		log.Fatal(http.ListenAndServe(net.JoinHostPort(host, strconv.Itoa(p+1)), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, c.n.Load())
		})))
	}()
	fmt.Println("ready")
	log.Fatal(gs.Serve(ln))
}

func run() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(*outdir, "otlpbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sluiced := filepath.Join(dir, "sluiced")
	if out, err := exec.Command("go", "build", "-o", sluiced, "./cmd/sluiced").CombinedOutput(); err != nil {
		return fmt.Errorf("build sluiced (run from the repository root): %v\n%s", err, out)
	}
	reqs := requests(*records, *batch)
	// Export input: one line per record, for sluiced's file source.
	lines := filepath.Join(dir, "in.log")
	var sb strings.Builder
	for i := range *records {
		sb.WriteString(body(i))
		sb.WriteByte('\n')
	}
	if err := os.WriteFile(lines, []byte(sb.String()), 0o644); err != nil {
		return err
	}

	type subject struct {
		name string
		run  func(i int) (benchproc.Result, error)
	}
	// receive is the sluiced binary bin receiving over OTLP/gRPC into a
	// file.
	receive := func(name, bin string) subject {
		return subject{name, func(i int) (benchproc.Result, error) {
			a := freeAddr()
			d := filepath.Join(dir, fmt.Sprintf("recv-%d-%d", i, len(name)))
			admin := freeAddr()
			cfg := fmt.Sprintf(`{"dataDir": %q, "admin": {"addr": %q, "pprof": %v}, "sources": {"in": {"type": "otlp", "grpcAddr": %q}},
				"destinations": {"out": {"type": "file", "path": %q, "format": %q,
					"batch": {"count": 4096, "bytes": 8388608, "age": "5ms", "parallelism": 1, "eager": true}}}}`,
				d, admin, *profile != "", a, filepath.Join(d, "out.ndjson"), *fileFormat)
			p, err := benchproc.StartSluiced(bin, d, cfg)
			if err != nil {
				return benchproc.Result{}, err
			}
			if *profile == "" {
				return p.Measure(func() error { return send(a, reqs) })
			}
			return p.Measure(func() error {
				return profiled(admin, fmt.Sprintf("receive-%d", i), func() error { return send(a, reqs) })
			})
		}}
	}
	subjects := []subject{
		{"receive: pdata counting server", func(i int) (benchproc.Result, error) {
			a := freeAddr()
			p, err := benchproc.Start(exec.Command(self, "-role", "sink", "-addr", a), "ready")
			if err != nil {
				return benchproc.Result{}, err
			}
			return p.Measure(func() error { return send(a, reqs) })
		}},
		receive("receive: sluiced otlp → file", sluiced),
		{"export: OTel SDK otlploggrpc", func(i int) (benchproc.Result, error) {
			a := freeAddr()
			sink, err := benchproc.Start(exec.Command(self, "-role", "sink", "-addr", a), "ready")
			if err != nil {
				return benchproc.Result{}, err
			}
			defer sink.Stop()
			p, err := benchproc.Start(exec.Command(self, "-role", "sdk", "-addr", a, "-records", strconv.Itoa(*records),
				"-batch", strconv.Itoa(*batch)), "ready")
			if err != nil {
				return benchproc.Result{}, err
			}
			return p.Measure(func() error { return waitCount(a, *records) })
		}},
		{"export: sluiced file → otlp", func(i int) (benchproc.Result, error) {
			a := freeAddr()
			sink, err := benchproc.Start(exec.Command(self, "-role", "sink", "-addr", a), "ready")
			if err != nil {
				return benchproc.Result{}, err
			}
			defer sink.Stop()
			d := filepath.Join(dir, fmt.Sprintf("exp-%d", i))
			cfg := fmt.Sprintf(`{"dataDir": %q, "sources": {"in": {"type": "file", "paths": [%q], "startAt": "beginning"}},
				"destinations": {"out": {"type": "otlp", "endpoint": %q, "compression": "none",
					"batch": {"count": %d, "parallelism": 2, "eager": true}}}}`, d, lines, a, *batch)
			start := time.Now()
			p, err := benchproc.StartSluiced(sluiced, d, cfg)
			if err != nil {
				return benchproc.Result{}, err
			}
			p.Start = start
			return p.Measure(func() error { return waitCount(a, *records) })
		}},
	}
	if *compare != "" {
		// Right after the binary it is compared with, so that the
		// interleaving puts them side by side.
		subjects = append(subjects[:2], append([]subject{receive("receive: sluiced otlp → file, -compare binary", *compare)}, subjects[2:]...)...)
	}
	fmt.Printf("%d records of ~100 bytes, %d per request, %d replicas (median), %d client connections for receive\n\n",
		*records, *batch, *replicas, *conns)
	fmt.Println("| subject | records/s, median (min–max) | CPU-s | peak RSS MiB |")
	fmt.Println("|---|---|---|---|")
	// Replicas are interleaved (A B A B ...), so that a change in the
	// machine's load falls on every subject alike.
	runs := map[string][]benchproc.Result{}
	for i := range *replicas {
		for _, s := range subjects {
			if !strings.Contains(s.name, *only) {
				continue
			}
			r, err := s.run(i)
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			runs[s.name] = append(runs[s.name], r)
		}
	}
	medians := map[string]benchproc.Result{}
	for _, s := range subjects {
		rs := runs[s.name]
		if len(rs) == 0 {
			continue
		}
		sort.Slice(rs, func(i, j int) bool { return rs[i].Secs < rs[j].Secs })
		m := rs[len(rs)/2]
		medians[s.name] = m
		fmt.Printf("| %s | %.0f (%.0f–%.0f) | %.2f | %.1f |\n", s.name, m.Rate(*records),
			rs[len(rs)-1].Rate(*records), rs[0].Rate(*records), m.CPU, float64(m.HWM)/(1<<20))
	}
	ratio := func(what, a, b string) {
		if ma, ok := medians[a]; ok {
			if mb, ok := medians[b]; ok {
				fmt.Printf("\n%s ratio %.2f× (goal ≥0.5×)", what, ma.Rate(*records)/mb.Rate(*records))
			}
		}
	}
	ratio("receive", "receive: sluiced otlp → file", "receive: pdata counting server")
	ratio("export", "export: sluiced file → otlp", "export: OTel SDK otlploggrpc")
	fmt.Println()
	return nil
}

// requests builds the receive requests, encoded once.
func requests(n, per int) []plogotlp.ExportRequest {
	var out []plogotlp.ExportRequest
	for start := 0; start < n; start += per {
		logs := plog.NewLogs()
		rl := logs.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", "bench")
		rl.Resource().Attributes().PutStr("host.name", "bench-1")
		lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
		for i := start; i < min(start+per, n); i++ {
			lr := lrs.AppendEmpty()
			lr.SetTimestamp(pcommon.Timestamp(1_765_000_000_000_000_000 + int64(i)*1000))
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.Body().SetStr(body(i))
			lr.Attributes().PutStr("http.method", "GET")
			lr.Attributes().PutInt("http.status", 200)
		}
		out = append(out, plogotlp.NewExportRequestFromLogs(logs))
	}
	return out
}

// send sends reqs over *conns concurrent streams, each waiting for OK and
// resending on error (as an exporter does).
func send(addr string, reqs []plogotlp.ExportRequest) error {
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()
	client := plogotlp.NewGRPCClient(cc)
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for range *conns {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(reqs) {
					return
				}
				for tries := 0; ; tries++ {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					_, err := client.Export(ctx, reqs[i])
					cancel()
					if err == nil {
						break
					}
					if tries == 100 {
						firstErr.CompareAndSwap(nil, err)
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return err
	}
	return nil
}

// waitCount waits until the sink at addr has counted n records.
func waitCount(addr string, n int) error {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	url := "http://" + net.JoinHostPort(host, strconv.Itoa(p+1)) + "/"
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			var b [32]byte
			k, _ := resp.Body.Read(b[:])
			resp.Body.Close()
			if got, _ := strconv.Atoi(string(b[:k])); got >= n {
				return nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("the sink did not count %d records in 5 minutes", n)
}

func freeAddr() string {
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		a := ln.Addr().String()
		ln.Close()
		// the sink also takes port+1
		host, port, _ := net.SplitHostPort(a)
		p, _ := strconv.Atoi(port)
		if l2, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p+1))); err == nil {
			l2.Close()
			return a
		}
	}
}
