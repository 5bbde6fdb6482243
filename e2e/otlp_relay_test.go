package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestOTLPRelayKill runs sluiced → sluiced over OTLP/gRPC: a client sends
// records to the first (an otlp source, a disk buffer, an otlp
// destination), which forwards them to the second (an otlp source, a file
// destination). The second is killed with SIGKILL while records stream
// through it, and started again. Every record the first answered OK must be
// in the second's file: 0 missing (a few may be there twice).
func TestOTLPRelayKill(t *testing.T) {
	const total, per = 20000, 100
	dir := t.TempDir()
	aPort, bPort := freePort(t), freePort(t)
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
	aConfig := fmt.Sprintf(`{
		"dataDir": "./data",
		"sources": {"in": {"type": "otlp", "grpcAddr": "127.0.0.1:%d"}},
		"destinations": {"b": {"type": "otlp", "endpoint": "127.0.0.1:%d", "timeout": "2s",
			"batch": {"count": 500, "age": "50ms", "retry": {"initial": "50ms", "max": "500ms"}},
			"buffer": {"type": "disk", "maxBytes": 268435456, "whenFull": "block"}}},
	}`, aPort, bPort)
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
	var mu sync.Mutex
	okd := 0
	var retries int
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for start := 0; start < total; start += per {
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

	// Kill the receiver once records stream through it, mid-stream.
	waitForLong(t, "records to reach the receiver", time.Minute, func() bool { return fileLines(out) > total/5 })
	b.kill()
	killedAt := fileLines(out)
	if killedAt >= total {
		t.Fatalf("the receiver had all %d records before it was killed: not mid-stream", killedAt)
	}
	time.Sleep(time.Second) // the sender retries against a closed port meanwhile
	b = start(t, filepath.Join(dir, "b"), bConfig)
	<-sent
	if answered() != total {
		t.Fatalf("%d records answered OK, want %d", answered(), total)
	}

	// Every record reaches the file; some may twice.
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
	t.Logf("receiver killed with %d lines in its file; %d records, %d missing, %d duplicates, %d client retries",
		killedAt, total, missing, dups, retries)
	if missing != 0 {
		t.Errorf("%d records missing", missing)
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
