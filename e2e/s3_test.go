package e2e

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	minioUser     = "sluice-e2e"
	minioPassword = "sluice-e2e-password"
)

// minioServer is a MinIO server that the test can kill and restart on the
// same port and data directory.
type minioServer struct {
	bin, dir, addr string
	cmd            *exec.Cmd
	done           chan error
	logs           *logBuffer
}

func (m *minioServer) start(t *testing.T) {
	t.Helper()
	m.cmd = exec.Command(m.bin, "server", "--quiet", "--address", m.addr, "--console-address", fmt.Sprintf("127.0.0.1:%d", freePort(t)), m.dir)
	m.cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+minioUser, "MINIO_ROOT_PASSWORD="+minioPassword, "MINIO_BROWSER=off", "MINIO_UPDATE=off")
	m.cmd.Stdout, m.cmd.Stderr = m.logs, m.logs
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m.done = make(chan error, 1)
	go func(cmd *exec.Cmd, done chan error) { done <- cmd.Wait() }(m.cmd, m.done)
	waitFor(t, "minio to be ready", func() bool {
		select {
		case err := <-m.done: // such as its port taken meanwhile
			m.done <- err
			t.Fatalf("minio exited before it was ready: %v", err)
		default:
		}
		resp, err := http.Get("http://" + m.addr + "/minio/health/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// kill stops MinIO with SIGKILL, as a crash would.
func (m *minioServer) kill() {
	if m.cmd != nil && m.cmd.Process != nil {
		_ = m.cmd.Process.Signal(syscall.SIGKILL)
		<-m.done
		m.cmd = nil
	}
}

// startMinIO starts a MinIO server (scripts/minio installs it) in dir,
// with bucket "logs", and returns it and a client to read it back. It
// skips the test if MinIO is missing, and fails it then under
// SLUICE_E2E=1.
func startMinIO(t *testing.T, dir string) (*minioServer, *awss3.Client) {
	t.Helper()
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	bin := need(t, "minio", filepath.Join(strings.TrimSpace(string(gopath)), "bin", "minio"))
	m := &minioServer{bin: bin, dir: filepath.Join(dir, "minio"), addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), logs: &logBuffer{}}
	t.Cleanup(func() {
		m.kill()
		if t.Failed() {
			t.Logf("minio logs:\n%s", m.logs.String())
		}
	})
	m.start(t)
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 10 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	c := awss3.New(awss3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + m.addr), UsePathStyle: true, HTTPClient: hc,
		Credentials: credentials.NewStaticCredentialsProvider(minioUser, minioPassword, ""),
	})
	// /minio/health/ready can answer 200 while the object layer still
	// answers "Server not initialized yet": the bucket's creation is
	// tried until it is.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err := c.CreateBucket(t.Context(), &awss3.CreateBucketInput{Bucket: aws.String("logs")})
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "not initialized") || time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	return m, c
}

// TestS3MinIO sends nginx access logs through syslog and sluiced to a real
// MinIO, which is killed and restarted mid-run; every request must end up
// in exactly one object.
func TestS3MinIO(t *testing.T) {
	nginx := need(t, "nginx", "/usr/sbin/nginx")
	dir := t.TempDir()
	m, s3c := startMinIO(t, dir)
	endpoint := "http://" + m.addr

	syslogPort, httpPort := freePort(t), freePort(t)
	t.Setenv("S3_SECRET", minioPassword)
	d := start(t, dir, fmt.Sprintf(`{
		"sources": {"nginx": {"type": "syslog", "addr": "127.0.0.1:%d", "network": "udp"}},
		"destinations": {"archive": {
			"type": "s3", "bucketName": "logs", "bucketRegion": "us-east-1", "pathPrefix": "e2e",
			"customEndpoint": %q, "accessKeyID": %q, "accessSecretKey": "$S3_SECRET",
			"batchSize": 50, "flushFrequency": "200ms", "retry": {"max": "500ms"},
		}},
		"routes": [{"from": ["nginx"], "to": ["archive"], "handlers": [{"type": "nginx"}]}],
	}`, syslogPort, endpoint, minioUser))
	startNginx(t, nginx, dir, syslogPort, httpPort)

	client := &http.Client{Timeout: 5 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	request := func(i int) {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/req/%d", httpPort, i))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	const before, during, after = 200, 40, 200
	i := 0
	for ; i < before; i++ {
		request(i)
	}
	time.Sleep(100 * time.Millisecond) // some batches in flight, some stored
	m.kill()
	for ; i < before+during; i++ { // logged while MinIO is down
		request(i)
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second) // ~2 s down in all
	m.start(t)
	for ; i < before+during+after; i++ {
		request(i)
	}
	n := i

	keyRE := regexp.MustCompile(`^e2e/(\d{4})/(\d{2})/(\d{2})/(\d{2})/nginx-\d{8}T\d{6}Z-[0-9a-f]{32}\.ndjson\.gz$`)
	var seen map[string]int
	read := func() int {
		seen = map[string]int{}
		var mm []string // the key's date parts
		eachLine(t, s3c, nil, func(key string, o *awss3.GetObjectOutput, line []byte) {
			var ev map[string]any
			if err := json.Unmarshal(line, &ev); err != nil {
				t.Fatalf("%s: bad line %q: %v", key, line, err)
			}
			if mm == nil || mm[0] != key { // its first line
				if mm = keyRE.FindStringSubmatch(key); mm == nil {
					t.Fatalf("key %q does not follow the template", key)
				}
				if ct, ce := aws.ToString(o.ContentType), aws.ToString(o.ContentEncoding); ct != "application/x-ndjson" || ce != "gzip" {
					t.Errorf("%s: Content-Type %q, Content-Encoding %q", key, ct, ce)
				}
				ts, err := time.Parse(time.RFC3339Nano, fmt.Sprint(ev["ts"]))
				if err != nil {
					t.Fatalf("%s: ts: %v", key, err)
				}
				if want := ts.UTC().Format("2006/01/02/15"); strings.Join(mm[1:5], "/") != want {
					t.Errorf("%s: first event at %s, want its hour %s in the key", key, ts, want)
				}
			}
			if p, _ := get(ev, "http.path").(string); strings.HasPrefix(p, "/req/") {
				seen[p]++
			}
		})
		return len(seen)
	}
	deadline := time.Now().Add(60 * time.Second)
	for read() < n {
		if time.Now().After(deadline) {
			t.Fatalf("after 60s, %d of %d requests are in MinIO", len(seen), n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.stop(t)
	read()
	for i := range n {
		if c := seen[fmt.Sprintf("/req/%d", i)]; c != 1 {
			t.Errorf("request /req/%d is in MinIO %d times, want exactly once", i, c)
		}
	}
	if strings.Contains(d.logs.String(), minioPassword) {
		t.Error("sluiced logged the secret key")
	}
	warns := regexp.MustCompile(`(?m)^.*level=WARN.*$`).FindAllString(d.logs.String(), -1)
	if len(warns) == 0 {
		t.Fatal("sluiced logged no retry while MinIO was down")
	}
	t.Logf("%d requests in MinIO exactly once; %d warnings while MinIO was down, the first: %s", n, len(warns), warns[0])
}

// eachLine calls f with every line of every object of bucket "logs", in
// order, with the object's key and GetObject answer; a gzipped body is
// gunzipped. With skip, it does not read the objects whose key skip
// reports true for.
func eachLine(t *testing.T, c *awss3.Client, skip func(key string) bool, f func(key string, o *awss3.GetObjectOutput, line []byte)) {
	t.Helper()
	p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String("logs")})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if skip != nil && skip(key) {
				continue
			}
			r, err := c.GetObject(t.Context(), &awss3.GetObjectInput{Bucket: aws.String("logs"), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(r.Body)
			var body io.Reader = br
			if magic, _ := br.Peek(2); string(magic) == "\x1f\x8b" {
				if body, err = gzip.NewReader(br); err != nil {
					t.Fatalf("%s: %v", key, err)
				}
			}
			sc := bufio.NewScanner(body)
			for sc.Scan() {
				f(key, r, sc.Bytes())
			}
			r.Body.Close()
			if err := sc.Err(); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
		}
	}
}

// eventRaw returns the raw text of an event's JSON line.
func eventRaw(t *testing.T, key string, line []byte) string {
	var ev struct{ Raw string }
	if err := json.Unmarshal(line, &ev); err != nil {
		t.Fatalf("%s: bad line %q: %v", key, line, err)
	}
	return ev.Raw
}
