package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip" // A's destination compresses
	"google.golang.org/grpc/status"
)

// holdingProxy stands between sluiced A's otlp destination and sluiced
// B's otlp source and passes Export calls through. Once armed, it holds
// back the next OK that B gives: it hands the request's record bodies to
// the test on held, waits on release, and answers A UNAVAILABLE instead.
type holdingProxy struct {
	plogotlp.UnimplementedGRPCServer
	next    plogotlp.GRPCClient
	armed   atomic.Bool
	held    chan []string
	release chan struct{}
}

func (p *holdingProxy) Export(ctx context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	resp, err := p.next.Export(ctx, req)
	if err != nil || !p.armed.CompareAndSwap(true, false) {
		return resp, err // B's own answer, or B is down: A retries
	}
	var bodies []string
	for _, rl := range req.Logs().ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				bodies = append(bodies, lr.Body().Str())
			}
		}
	}
	p.held <- bodies
	<-p.release
	return plogotlp.NewExportResponse(), status.Error(codes.Unavailable, "the test held back B's OK and killed B")
}

// startProxy serves a holdingProxy on a free port, passing calls to
// 127.0.0.1:next, until the test ends.
func startProxy(t *testing.T, next int) (*holdingProxy, int) {
	t.Helper()
	cc, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", next), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.5, MaxDelay: 200 * time.Millisecond},
			MinConnectTimeout: time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &holdingProxy{next: plogotlp.NewGRPCClient(cc), held: make(chan []string), release: make(chan struct{})}
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(16 << 20))
	plogotlp.RegisterGRPCServer(gs, p)
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(func() { gs.Stop(); cc.Close() })
	return p, ln.Addr().(*net.TCPAddr).Port
}

// TestOTLPRelayKill runs sluiced → sluiced over OTLP/gRPC: a client sends
// records to A (an otlp source, a disk buffer, an otlp destination), which
// forwards them to B (an otlp source, a file destination) through a proxy.
// Three times, at the most dangerous moment, B is killed with SIGKILL:
// B has written a request's records to its file and answered OK, and the
// OK has not reached A (the proxy holds it). B is started again. Every
// record the client was answered OK for must be in B's file (0 missing);
// the records of each held request are there twice, since A sends them
// again, and nothing else is duplicated except what the client itself
// resent to A.
func TestOTLPRelayKill(t *testing.T) {
	const total, per, batch = 20000, 100, 500
	dir := t.TempDir()
	aPort, bPort := freePort(t), freePort(t)
	proxy, pPort := startProxy(t, bPort)
	out := filepath.Join(dir, "b", "out.ndjson")
	for _, d := range []string{"a", "b"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bConfig := fmt.Sprintf(`{
		"dataDir": "./data",
		"sources": {"in": {"type": "otlp", "grpcAddr": "127.0.0.1:%d"}},
		"destinations": {"out": {"type": "file", "path": %q}},
	}`, bPort, out)
	// One request in flight from A at a time, so the duplicates of a kill
	// are exactly the held request's records.
	aConfig := fmt.Sprintf(`{
		"dataDir": "./data",
		"sources": {"in": {"type": "otlp", "grpcAddr": "127.0.0.1:%d"}},
		"destinations": {"b": {"type": "otlp", "endpoint": "127.0.0.1:%d", "timeout": "5s",
			"batch": {"count": %d, "age": "50ms", "parallelism": 1, "retry": {"initial": "50ms", "max": "500ms"}},
			"buffer": {"type": "disk", "maxBytes": 268435456, "whenFull": "block"}}},
	}`, aPort, pPort, batch)
	b := start(t, filepath.Join(dir, "b"), bConfig)
	start(t, filepath.Join(dir, "a"), aConfig)

	cc, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", aPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := plogotlp.NewGRPCClient(cc)

	// The client sends requests of `per` records, each until it is
	// answered OK, as an OTel exporter would.
	// The client stops before each kill's point until the proxy is armed,
	// so that records are still flowing when it is: on a fast machine they
	// all may have reached B before the test looked.
	kills := []int{total / 5, total / 2, 4 * total / 5}
	gates := map[int]chan struct{}{}
	for _, at := range kills {
		gates[at] = make(chan struct{})
	}
	var mu sync.Mutex
	okd := 0
	var retries int
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for start := 0; start < total; start += per {
			if g, ok := gates[start]; ok {
				<-g
			}
			logs := plog.NewLogs()
			lrs := logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
			for i := start; i < start+per; i++ {
				lrs.AppendEmpty().Body().SetStr(fmt.Sprintf("rec-%d", i))
			}
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := client.Export(ctx, plogotlp.NewExportRequestFromLogs(logs))
				cancel()
				if err == nil {
					break
				}
				mu.Lock()
				retries++
				mu.Unlock()
				time.Sleep(50 * time.Millisecond)
			}
			mu.Lock()
			okd = start + per
			mu.Unlock()
		}
	}()
	answered := func() int { mu.Lock(); defer mu.Unlock(); return okd }

	// Kill B at the moment, three times along the stream.
	var held []string
	for k, at := range kills {
		waitForLong(t, "records to reach B", time.Minute, func() bool { return fileLines(out) >= at-2*batch })
		proxy.armed.Store(true)
		close(gates[at])
		var bodies []string
		select {
		case bodies = <-proxy.held:
		case <-time.After(time.Minute):
			t.Fatal("B gave no OK in a minute")
		}
		// B has answered OK: the records are in its file, and A has not
		// been told.
		inFile := bodiesIn(t, out)
		for _, body := range bodies {
			if inFile[body] == 0 {
				t.Fatalf("kill %d: B answered OK for %s, which is not in its file", k, body)
			}
		}
		b.kill()
		proxy.release <- struct{}{}
		held = append(held, bodies...)
		t.Logf("kill %d: B killed with %d lines in its file, holding an OK for %d records (%s…)", k, fileLines(out), len(bodies), bodies[0])
		time.Sleep(300 * time.Millisecond) // A retries against a dead B meanwhile
		b = start(t, filepath.Join(dir, "b"), bConfig)
	}
	<-sent
	if answered() != total {
		t.Fatalf("%d records answered OK, want %d", answered(), total)
	}

	// Every record reaches the file; the held ones twice.
	counts := map[string]int{}
	waitForLong(t, "every record in the file", 2*time.Minute, func() bool {
		counts = bodiesIn(t, out)
		return len(counts) == total
	})
	b.stop(t)
	counts = bodiesIn(t, out)
	missing, dups := 0, 0
	for i := range total {
		switch c := counts[fmt.Sprintf("rec-%d", i)]; {
		case c == 0:
			missing++
		case c > 1:
			dups += c - 1
		}
	}
	resentTwice := 0
	for _, body := range held {
		if counts[body] >= 2 {
			resentTwice++
		}
	}
	mu.Lock()
	bound := len(held) + retries*per // each held record once more, and whatever the client resent to A
	mu.Unlock()
	t.Logf("%d records, %d missing, %d duplicates (bound %d: %d held at the kills, %d client retries of %d)",
		total, missing, dups, bound, len(held), retries, per)
	if missing != 0 {
		t.Errorf("%d records missing", missing)
	}
	if resentTwice != len(held) {
		t.Errorf("%d of the %d records whose OK was held are in the file twice, want all: the moment was not made", resentTwice, len(held))
	}
	if dups > bound {
		t.Errorf("%d duplicates, over the bound of %d", dups, bound)
	}
}

// fileLines counts the lines of path.
func fileLines(path string) int {
	b, _ := os.ReadFile(path)
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}

// bodiesIn counts the record bodies in the file destination's output. A
// line that does not parse (torn by the kill) is skipped: its records
// were not acked, and come again.
func bodiesIn(t *testing.T, path string) map[string]int {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev struct {
			Raw string `json:"raw"`
		}
		var rec struct {
			Body string `json:"body"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil || json.Unmarshal([]byte(ev.Raw), &rec) != nil {
			continue
		}
		counts[rec.Body]++
	}
	return counts
}
