package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// TestS3DownAtStartSIGTERM creates the moment of issue 14 item 2 on
// purpose: sluiced starts with its S3 endpoint down (a closed port: every
// connection refused), so the S3 destination retries its bucket check;
// events arrive from the http source, which answers 200 only once they
// are stored; then SIGTERM, while the check still retries.
//
// Expected: no request got 200 (nothing was stored, so nothing may be
// acknowledged); the log says at Error how many events were not delivered
// (exactly the number sent) and never claims a clean stop; sluiced exits
// 3 (daemon.ExitUndelivered), not 0. Then S3 comes up on the same port
// (gofakes3, in this process), sluiced restarts, the client resends every
// request that did not get 200, as an HTTP client does, and every event
// is in S3: 0 missing.
func TestS3DownAtStartSIGTERM(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s3Addr := l.Addr().String()
	l.Close() // down: connections are refused until the fake listens here
	httpPort, adminPort := freePort(t), freePort(t)
	t.Setenv("S3_SECRET", "startup-secret-key-0123456789")
	config := fmt.Sprintf(`{
		"dataDir": %q, "shutdownTimeout": "5s",
		"admin": {"addr": "127.0.0.1:%d"},
		"sources": {"in": {"type": "http", "addr": "127.0.0.1:%d", "format": "lines", "requestTimeout": "60s"}},
		"destinations": {"archive": {
			"type": "s3", "bucketName": "logs", "bucketRegion": "us-east-1",
			"customEndpoint": "http://%s", "accessKeyID": "AKIDSTARTUP", "accessSecretKey": "$S3_SECRET",
			"batchSize": 1000, "flushFrequency": "100ms", "retry": {"initial": "50ms", "max": "200ms"},
		}},
		"routes": [{"from": ["in"], "to": ["archive"]}],
	}`, dir, adminPort, httpPort, s3Addr)

	const requests, perRequest = 10, 20
	bodies := make([]string, requests)
	for r := range requests {
		var b strings.Builder
		for i := range perRequest {
			fmt.Fprintf(&b, "ev-%d-%d\n", r, i)
		}
		bodies[r] = b.String()
	}
	client := &http.Client{Timeout: 90 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	post := func(r int) (int, error) {
		resp, err := client.Post(fmt.Sprintf("http://127.0.0.1:%d/", httpPort), "text/plain", strings.NewReader(bodies[r]))
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	// Run 1: S3 down, SIGTERM during the bucket check's retries.
	d := start(t, dir, config)
	waitFor(t, "the bucket check to retry", func() bool { return strings.Contains(d.logs.String(), "bucket check failed, retrying") })
	statuses := make([]int, requests)
	errs := make([]error, requests)
	var wg sync.WaitGroup
	for r := range requests {
		wg.Go(func() { statuses[r], errs[r] = post(r) })
	}
	held := `sluice_events_in_total{kind="destination",name="archive"}`
	waitFor(t, "every event to reach the S3 destination", func() bool { return scrapeOr(adminPort, held) == requests*perRequest })
	time.Sleep(300 * time.Millisecond) // the last Send returns into the batch
	if !strings.Contains(d.logs.String(), "bucket check failed, retrying") || strings.Contains(d.logs.String(), "msg=\"s3: put") {
		t.Fatal("S3 is not down")
	}
	code := terminate(t, d)
	wg.Wait()
	logs1 := d.logs.String()
	if code != 3 {
		t.Errorf("exit status %d after a stop with events undelivered, want 3", code)
	}
	for r := range requests {
		if statuses[r] == http.StatusOK {
			t.Errorf("request %d got 200 though S3 stored nothing", r)
		}
	}
	held1 := regexp.MustCompile(`level=ERROR msg="batch: stopped before it could start; the messages held are not delivered, not acked" destination=archive messages=(\d+)`).FindStringSubmatch(logs1)
	if held1 == nil || held1[1] != strconv.Itoa(requests*perRequest) {
		t.Errorf("the log does not count the %d events held at Error (got %v)", requests*perRequest, held1)
	}
	lines := strings.Split(strings.TrimSpace(logs1), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, `level=ERROR msg="stopped with events not delivered`) {
		t.Errorf("last log line %q does not say the drain was incomplete", last)
	}
	if strings.Contains(logs1, "level=INFO msg=stopped") {
		t.Error("logged a clean stop")
	}

	// Run 2: S3 up on the same address; the client resends what did not
	// get 200.
	backend := s3mem.New()
	if err := backend.CreateBucket("logs"); err != nil {
		t.Fatal(err)
	}
	l, err = net.Listen("tcp", s3Addr)
	if err != nil {
		t.Fatalf("listen on %s again: %v", s3Addr, err)
	}
	srv := httptest.NewUnstartedServer(gofakes3.New(backend).Server())
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	d2 := start(t, dir, config)
	for r := range requests {
		if statuses[r] == http.StatusOK {
			continue
		}
		if st, err := post(r); err != nil || st != http.StatusOK {
			t.Fatalf("request %d after the restart: %d, %v; want 200", r, st, err)
		}
	}
	d2.stop(t)
	if strings.Contains(logs1+d2.logs.String(), "startup-secret-key") {
		t.Error("the secret key is in the logs")
	}

	s3c := awss3.New(awss3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSTARTUP", "x", ""),
	})
	seen := map[string]int{}
	eachLine(t, s3c, nil, func(key string, _ *awss3.GetObjectOutput, line []byte) { seen[eventRaw(t, key, line)]++ })
	missing, dups := 0, 0
	for r := range requests {
		for i := range perRequest {
			switch n := seen[fmt.Sprintf("ev-%d-%d", r, i)]; {
			case n == 0:
				missing++
			case n > 1:
				dups += n - 1
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d events missing from S3 after the restart", missing, requests*perRequest)
	}
	t.Logf("run 1: %d events held, exit %d, %d requests answered without 200; run 2: %d events sent again, %d missing, %d duplicates",
		requests*perRequest, code, requests, requests*perRequest, missing, dups)
}

// terminate sends SIGTERM to d and returns its exit status.
func terminate(t *testing.T, d *daemon) int {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		d.done <- err
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			return ee.ExitCode()
		}
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("sluiced did not exit after SIGTERM")
	}
	return -1
}

// scrapeOr returns the value of series on the admin listener at port, or
// -1 if it cannot be read or is absent.
func scrapeOr(port int, series string) float64 {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}
