package storetest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// apartEnv, set in a test binary's environment, makes [Main] serve as
// the server [Apart] starts instead of running the tests.
const apartEnv = "SLUICE_STORE_BENCH_SERVER"

// Main is a test package's TestMain for benchmarks that use [Apart]: in
// the process Apart starts it serves, otherwise it runs the tests.
func Main(m *testing.M) {
	if os.Getenv(apartEnv) != "" {
		serveApart()
		return
	}
	os.Exit(m.Run())
}

// Apart starts this test binary (whose TestMain calls [Main]) as a
// process of its own that serves the write APIs of the HTTP stores on a
// loopback port, and returns its base URL; the process ends with tb. It
// reads each body whole, as a store does, without decoding it, and
// answers as the store answers a write it took: ClickHouse 200 (any
// path), Loki 204 (/loki/api/v1/push), Elasticsearch a _bulk result
// without errors (/_bulk and /<index>/_bulk), Splunk HEC Success
// (/services/collector/...).
//
// A benchmark against it measures the sender alone, in that the server's
// reads and answers run in another process and are not in the sender's
// CPU time. What loopback still charges the sender: the kernel delivers a
// loopback TCP segment to the receiving socket within the sender's write
// (the receive side's TCP and IP processing, on the sending CPU), which
// on a network the receiving host does.
func Apart(tb testing.TB) string {
	tb.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), apartEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http://") {
		tb.Fatalf("the server apart did not start: %q, %v", line, err)
	}
	return strings.TrimSpace(line)
}

// serveApart listens on a loopback port, prints its URL and serves until
// stdin closes.
func serveApart() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Printf("http://%s\n", l.Addr())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		l.Close()
	}()
	_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		CountLines(r.Body)
		switch {
		case r.URL.Path == "/loki/api/v1/push":
			w.WriteHeader(http.StatusNoContent)
		case strings.HasSuffix(r.URL.Path, "/_bulk"):
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"errors":false,"items":[]}`)
		case strings.HasPrefix(r.URL.Path, "/services/collector"):
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"text":"Success","code":0}`)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
}
