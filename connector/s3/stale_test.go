package s3_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/s3"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/syncbuf"
)

// staleProxy stands between a destination and MinIO. MinIO's Initiated
// cannot be set, so the proxy makes the uploads whose key old matches
// look initiated two days ago in listings. It may hold UploadPart
// requests until hold is closed (signalling held), and may refuse the
// listing with 403 AccessDenied, as a policy without
// s3:ListBucketMultipartUploads does. Set the fields before use.
type staleProxy struct {
	url   string
	old   func(key string) bool
	hold  chan struct{}
	held  chan struct{} // buffered 1
	deny  bool
	lists atomic.Int32 // ListMultipartUploads requests received
}

var (
	uploadRE    = regexp.MustCompile(`(?s)<Upload>.*?</Upload>`)
	keyRE       = regexp.MustCompile(`<Key>([^<]*)</Key>`)
	initiatedRE = regexp.MustCompile(`<Initiated>[^<]*</Initiated>`)
)

func newStaleProxy(t *testing.T, target string) *staleProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	px := &staleProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		if !isListUploads(resp.Request) || resp.StatusCode != http.StatusOK || px.old == nil {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		long := time.Now().Add(-48 * time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
		body = uploadRE.ReplaceAllFunc(body, func(up []byte) []byte {
			if m := keyRE.FindSubmatch(up); m != nil && px.old(string(m[1])) {
				return initiatedRE.ReplaceAll(up, []byte("<Initiated>"+long+"</Initiated>"))
			}
			return up
		})
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", fmt.Sprint(len(body)))
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case isListUploads(r):
			px.lists.Add(1)
			if px.deny {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied.</Message><BucketName>logs</BucketName><Resource>/logs</Resource><RequestId>1</RequestId></Error>`)
				return
			}
		case r.Method == http.MethodPut && q.Has("partNumber") && q.Has("uploadId") && px.hold != nil:
			select {
			case px.held <- struct{}{}:
			default:
			}
			select {
			case <-px.hold:
			case <-r.Context().Done():
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	px.url = srv.URL
	return px
}

// isListUploads reports whether r is a ListMultipartUploads: GET /bucket?uploads.
func isListUploads(r *http.Request) bool {
	return r.Method == http.MethodGet && r.URL.Query().Has("uploads") && strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0
}

// uploadKeys lists the bucket's incomplete multipart uploads, sorted by key.
func uploadKeys(t *testing.T, c *awss3.Client) []string {
	t.Helper()
	out, err := c.ListMultipartUploads(t.Context(), &awss3.ListMultipartUploadsInput{Bucket: aws.String("logs")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	slices.Sort(keys)
	return keys
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func staleConfig(url, prefix string) s3.Config {
	c := config(url)
	c.BucketName = "logs"
	c.AccessKeyID, c.AccessSecretKey = minioUser, minioPassword
	c.PathPrefix = prefix
	c.Compression = "none"
	c.AbortStaleUploadsAfter = 24 * time.Hour
	return c
}

// With abortStaleUploadsAfter, the destination aborts, on real MinIO, the
// incomplete uploads of its own keys older than the setting (a crash's),
// and no other: not a younger one, not one under another prefix or of
// another shape, and not its own upload in progress (held at a part, and
// made to look old too), which completes once released.
func TestMinIOAbortStaleUploads(t *testing.T) {
	mURL, rc := minio(t)
	px := newStaleProxy(t, mURL)
	key := func(prefix string, c byte) string {
		return prefix + "2026/12/07/13/web-20261207T130000Z-" + strings.Repeat(string(c), 32) + ".ndjson"
	}
	stale, fresh := key("crash/", 'a'), key("crash/", 'b')
	otherPrefix, otherShape := key("other/", 'c'), "crash/manual.bin"
	for _, k := range []string{stale, fresh, otherPrefix, otherShape} {
		if _, err := rc.CreateMultipartUpload(t.Context(), &awss3.CreateMultipartUploadInput{Bucket: aws.String("logs"), Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	px.old = func(k string) bool { return k != fresh }
	px.hold, px.held = make(chan struct{}), make(chan struct{}, 1)

	c := staleConfig(px.url, "crash")
	c.MultipartThreshold = s3.MinPartSize
	const n = 6000 // 6 MB: two parts
	c.BatchSize, c.BatchBytes = n, 64<<20
	var logs syncbuf.Buffer
	d, err := s3.New(c, s3.WithLogger(newLogger(&logs)), s3.WithStaleScanEvery(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	msgs := make([]sluice.Message[event.Event], n)
	for i := range msgs {
		msgs[i] = msg("web", time.Now(), fmt.Sprintf("%06d%s", i, strings.Repeat("m", 1000)))
	}
	acked := make(chan struct{})
	if err := d.Send(t.Context(), func() { close(acked) }, msgs...); err != nil {
		t.Fatal(err)
	}
	select {
	case <-px.held:
	case <-time.After(60 * time.Second):
		t.Fatal("no part uploaded")
	}
	// Two listings that began after the upload was created: the first
	// look since then has ended.
	after := px.lists.Load()
	waitFor(t, "two more looks", func() bool { return px.lists.Load() >= after+2 })
	left := uploadKeys(t, rc)
	var ours []string
	for _, k := range left {
		if strings.HasPrefix(k, "crash/") && k != fresh && k != otherShape {
			ours = append(ours, k)
		}
	}
	if slices.Contains(left, stale) || len(left) != 4 || len(ours) != 1 {
		t.Errorf("uploads left while ours is held: %q; want all but the stale one (%s)", left, stale)
	}
	if got := strings.Count(logs.String(), "aborted a stale multipart upload"); got != 1 || !strings.Contains(logs.String(), "key="+stale) {
		t.Errorf("%d abort logs, want 1 naming %s:\n%s", got, stale, logs.String())
	}

	close(px.hold)
	select {
	case <-acked:
	case <-time.After(60 * time.Second):
		t.Fatalf("our held upload was not completed after release:\n%s", logs.String())
	}
	objs, err := objectsIn(rc, "logs", "crash/")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 {
		t.Fatalf("%d objects, want 1", len(objs))
	}
	for k, o := range objs {
		if len(o.Lines) != n || k != ours[0] {
			t.Errorf("object %s holds %d lines, want %s with %d", k, len(o.Lines), ours[0], n)
		}
	}
	if err := stop(); err != nil {
		t.Errorf("Run = %v", err)
	}
	if left, want := uploadKeys(t, rc), []string{fresh, otherShape, otherPrefix}; !slices.Equal(left, want) {
		t.Errorf("uploads left: %q, want %q", left, want)
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("warnings:\n%s", logs.String())
	}
}

// A store that refuses the listing (the permission missing) gets one
// clear warning, no more looks, and the uploads go on.
func TestMinIOAbortStaleUploadsDenied(t *testing.T) {
	mURL, rc := minio(t)
	px := newStaleProxy(t, mURL)
	px.deny = true
	var logs syncbuf.Buffer
	d, err := s3.New(staleConfig(px.url, "denied"), s3.WithLogger(newLogger(&logs)), s3.WithStaleScanEvery(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	const warning = "s3: cannot abort stale multipart uploads (abortStaleUploadsAfter): the store refused"
	waitFor(t, "the warning", func() bool { return strings.Contains(logs.String(), warning) })
	// Uploads go on for a hundred look periods: no other look is made.
	sent := 0
	for begin := time.Now(); time.Since(begin) < 100*time.Millisecond; sent++ {
		send(t, d, msg("web", time.Now(), fmt.Sprint(sent)))
	}
	if err := stop(); err != nil {
		t.Errorf("Run = %v", err)
	}
	if got := len(mustLines(t, rc, "denied/")); got != sent {
		t.Errorf("%d events stored, want the %d sent", got, sent)
	}
	if got, lists := strings.Count(logs.String(), "level=WARN"), px.lists.Load(); got != 1 || lists != 1 {
		t.Errorf("%d warnings, %d listings: want one of each:\n%s", got, lists, logs.String())
	}
	if !regexp.MustCompile(`level=WARN msg="` + regexp.QuoteMeta(warning) + `[^"]*s3:ListBucketMultipartUploads[^"]*" error="s3: bucket \\"logs\\" at http://127.0.0.1:\d+: access denied \(AccessDenied: Access Denied.\)"`).MatchString(logs.String()) {
		t.Errorf("the warning does not name the permission and the error:\n%s", logs.String())
	}
}

// mustLines returns every line of the objects under prefix in "logs".
func mustLines(t *testing.T, c *awss3.Client, prefix string) []string {
	t.Helper()
	objs, err := objectsIn(c, "logs", prefix)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, o := range objs {
		for _, l := range o.Lines {
			lines = append(lines, string(l))
		}
	}
	return lines
}
