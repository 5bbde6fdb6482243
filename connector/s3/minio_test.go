package s3_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/s3"
	sconfig "github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/syncbuf"
)

const minioUser, minioPassword = "sluice-test", "sluice-test-password"

// minio starts a MinIO server (scripts/minio installs it) with bucket
// "logs" (MinIO wants 3 characters at least)
// and returns its URL and a client to read it back. It skips the test if
// MinIO is missing, and fails it then under SLUICE_E2E=1.
func minio(t *testing.T) (string, *awss3.Client) {
	t.Helper()
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	bin := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "minio")
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("SLUICE_E2E") == "1" {
			t.Fatalf("minio is not installed (SLUICE_E2E=1 requires it; run scripts/minio): %v", err)
		}
		t.Skipf("minio is not installed (scripts/minio installs it); set SLUICE_E2E=1 to make this a failure")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var logs syncbuf.Buffer
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, "--console-address", "127.0.0.1:0", t.TempDir())
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+minioUser, "MINIO_ROOT_PASSWORD="+minioPassword, "MINIO_BROWSER=off", "MINIO_UPDATE=off")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("minio logs:\n%s", logs.String())
		}
	})
	url := "http://" + addr
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(url + "/minio/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("minio not ready after 60s")
		}
	}
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(hc.CloseIdleConnections)
	c := awss3.New(awss3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(url), UsePathStyle: true, HTTPClient: hc,
		Credentials: credentials.NewStaticCredentialsProvider(minioUser, minioPassword, ""),
	})
	// /minio/health/ready can answer 200 while the object layer still
	// answers "Server not initialized yet" (XMinioServerNotInitialized):
	// the bucket's creation is tried until it is.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err := c.CreateBucket(t.Context(), &awss3.CreateBucketInput{Bucket: aws.String("logs")})
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "not initialized") || time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	return url, c
}

// TestMinIO writes to a real S3 implementation, which checks every
// request's SigV4 signature (over keys with characters that must be
// escaped), multipart rules (5 MiB parts, ETags, the completion document)
// and credentials.
func TestMinIO(t *testing.T) {
	url, rc := minio(t)
	conf := func() s3.Config {
		c := config(url)
		c.BucketName = "logs"
		c.AccessKeyID, c.AccessSecretKey = minioUser, minioPassword
		return c
	}

	t.Run("escaped keys", func(t *testing.T) {
		for _, comp := range []string{"gzip", "zstd", "none"} {
			c := conf()
			c.PathPrefix = "odd prefix/a+b=c&d;e,f@g$h'i(j)*k!~é/" + comp
			c.Compression = comp
			c.BatchSize = 3
			d, err := s3.New(c)
			if err != nil {
				t.Fatal(err)
			}
			run(t, d)
			send(t, d, msg("web", time.Now(), "1"), msg("web", time.Now(), "2"), msg("web", time.Now(), "3"))
			objs, err := objectsIn(rc, "logs", c.PathPrefix+"/")
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) != 1 {
				t.Fatalf("%s: %d objects under %q, want 1", comp, len(objs), c.PathPrefix)
			}
			for k, o := range objs {
				if len(o.Lines) != 3 || o.ContentType != "application/x-ndjson" {
					t.Errorf("%s: %d lines, Content-Type %q", k, len(o.Lines), o.ContentType)
				}
				want := comp
				if comp == "none" {
					want = ""
				}
				if o.ContentEncoding != want {
					t.Errorf("%s: Content-Encoding %q, want %q", k, o.ContentEncoding, want)
				}
			}
		}
	})

	t.Run("multipart", func(t *testing.T) {
		c := conf()
		c.PathPrefix = "mp"
		c.Compression = "none"
		c.MultipartThreshold = s3.MinPartSize
		const n = 11000 // 11 MB: parts of 5, 5 and 1 MiB
		c.BatchSize = n
		c.BatchBytes = 64 << 20
		d, err := s3.New(c)
		if err != nil {
			t.Fatal(err)
		}
		run(t, d)
		msgs := make([]sluice.Message[event.Event], n)
		ts := time.Now()
		for i := range msgs {
			msgs[i] = msg("s", ts, fmt.Sprintf("%06d%s", i, strings.Repeat("m", 1000)))
		}
		send(t, d, msgs...)
		objs, err := objectsIn(rc, "logs", "mp/")
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) != 1 {
			t.Fatalf("%d objects, want 1", len(objs))
		}
		for k, o := range objs {
			if len(o.Lines) != n {
				t.Fatalf("%d lines, want %d", len(o.Lines), n)
			}
			h, err := rc.HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: aws.String("logs"), Key: aws.String(k)})
			if err != nil {
				t.Fatal(err)
			}
			if etag := aws.ToString(h.ETag); !strings.HasSuffix(etag, `-3"`) {
				t.Errorf("ETag %s, want that of a 3-part upload", etag)
			}
		}
	})

	for _, tc := range []struct {
		name, bucket, secret, want string
	}{
		{"missing bucket", "nope", minioPassword, `s3: bucket "nope" at ` + url + ": not found"},
		{"wrong secret", "logs", "not-the-password", `s3: bucket "logs" at ` + url + ": access denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := conf()
			c.BucketName, c.AccessSecretKey = tc.bucket, sconfig.Secret(tc.secret)
			d, err := s3.New(c)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			err = d.Run(ctx)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("Run: %v, want %s", err, tc.want)
			}
			if strings.Contains(err.Error(), string(c.AccessSecretKey)) {
				t.Fatalf("Run: %v shows the secret", err)
			}
		})
	}
}
