package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestS3DestinationKill creates the dangerous moments of the s3
// destination's multipart upload (file source -> sluiced -> a proxy in
// this test -> MinIO), holding one request of a sluiced run and
// SIGKILLing sluiced while it is held:
//
//   - run 1: part 1 of an object is answered, part 2 stored and its
//     answer held: the upload is left incomplete, the object never made;
//   - run 2: CompleteMultipartUpload is held before MinIO sees it: every
//     part is stored, the object never made;
//   - run 3: CompleteMultipartUpload is done, its answer held: the object
//     is stored, and sluiced never learns it.
//
// Every later request is held too, and never forwarded. Each run checks
// its moment in MinIO (the object, the incomplete upload and its parts)
// before the restart. After a fourth start, every line of the file must
// be in the bucket's objects: none missing, duplicates counted. The
// uploads left incomplete must be exactly those of runs 1 and 2: sluiced
// does not abort, after a restart, an upload it started before (a
// lifecycle rule does; see docs/delivery.md), unless told to: a fifth
// start with abortStaleUploadsAfter aborts them (made to look old).
func TestS3DestinationKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	dir := t.TempDir()
	m, c := startMinIO(t, dir)
	minio, err := url.Parse("http://" + m.addr)
	if err != nil {
		t.Fatal(err)
	}
	const (
		batch = 20_000 // events of ~400 bytes: 7 MiB, two parts of 5 MiB at most
		n     = 3 * batch
	)
	logPath := seqLog(t, dir, n, "s3 destination kill")
	inBucket := bucketSeqs(t, c)
	config := func(endpoint string) string {
		return holdKillConfig(logPath, fmt.Sprintf(`{
			"type": "s3", "bucketName": "logs", "bucketRegion": "us-east-1",
			"customEndpoint": %q, "accessKeyID": %q, "accessSecretKey": %q,
			"compression": "none", "batchSize": %d, "multipartThreshold": %d, "parallelism": 1,
			"retry": {"max": "200ms"},
		}`, endpoint, minioUser, minioPassword, batch, 5<<20))
	}
	partNumber := func(r *http.Request) int {
		if r.Method != http.MethodPut || !r.URL.Query().Has("uploadId") {
			return 0
		}
		n, _ := strconv.Atoi(r.URL.Query().Get("partNumber"))
		return n
	}
	// The proxy to MinIO notes each upload whose part 1 it answered: a
	// run holds part 2 only then, so that sluiced waits for its last
	// part with the others done.
	proxy := httputil.NewSingleHostReverseProxy(minio)
	var firstPart sync.Map // upload id -> true
	serve := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxy.ServeHTTP(w, r)
		if partNumber(r) == 1 {
			firstPart.Store(r.URL.Query().Get("uploadId"), true)
		}
	})
	part := func(r *http.Request) bool {
		if partNumber(r) < 2 {
			return false
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if _, ok := firstPart.Load(r.URL.Query().Get("uploadId")); ok {
				return true
			}
			if time.Now().After(deadline) {
				t.Error("part 1 was not answered within 10s of part 2's request")
				return true
			}
		}
	}
	complete := func(r *http.Request) bool {
		return r.Method == http.MethodPost && r.URL.Query().Has("uploadId")
	}
	runs := []struct {
		what   string
		pick   func(*http.Request) bool
		after  bool // MinIO does the held request
		stored bool // the object is stored at the kill
	}{
		{"part 1 answered, part 2 stored and its answer held", part, true, false},
		{"CompleteMultipartUpload held before MinIO saw it", complete, false, false},
		{"CompleteMultipartUpload done, its answer held", complete, true, true},
	}
	var incomplete []string // the uploads the runs leave incomplete
	for r, run := range runs {
		h := newHTTPHold(serve, run.pick, run.after)
		if !h.kill(t, dir, config, fmt.Sprintf("run %d: %s", r+1, run.what)) {
			break
		}
		key := strings.TrimPrefix(h.req.URL.Path, "/logs/")
		upload := h.req.URL.Query().Get("uploadId")
		_, err := c.HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: aws.String("logs"), Key: aws.String(key)})
		var nf *types.NotFound
		if err != nil && !errors.As(err, &nf) {
			t.Fatal(err)
		}
		pending := slices.Contains(incompleteUploads(t, c), upload)
		var parts []int32
		if pending {
			lp, err := c.ListParts(t.Context(), &awss3.ListPartsInput{Bucket: aws.String("logs"), Key: aws.String(key), UploadId: aws.String(upload)})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range lp.Parts {
				parts = append(parts, aws.ToInt32(p.PartNumber))
			}
			incomplete = append(incomplete, upload)
		}
		t.Logf("run %d: SIGKILL with %s; object %s stored: %v; upload incomplete: %v, parts %v; %d distinct lines in the bucket",
			r+1, run.what, key, err == nil, pending, parts, len(inBucket()))
		moment := (err == nil) == run.stored && pending != run.stored
		if run.after && !run.stored && !(slices.Contains(parts, 1) && slices.Contains(parts, 2)) {
			moment = false // run 1: parts 1 and 2 stored
		}
		if !moment {
			t.Fatalf("run %d: the test did not create its moment", r+1)
		}
	}
	d := start(t, dir, config("http://"+m.addr))
	waitAll(n, func() int { return len(inBucket()) })
	d.stop(t)
	checkAllSent(t, inBucket(), n, "3 SIGKILLs in multipart uploads")
	left := incompleteUploads(t, c)
	t.Logf("incomplete uploads left in the bucket: %d", len(left))
	slices.Sort(left)
	slices.Sort(incomplete)
	if !slices.Equal(left, incomplete) {
		t.Errorf("incomplete uploads %v, want those of the killed runs, %v", left, incomplete)
	}

	// Run 5, with abortStaleUploadsAfter: sluiced aborts them, made to
	// look two days old by a proxy (MinIO's Initiated cannot be set), and
	// no object goes.
	aged := httptest.NewServer(agedUploads(minio))
	defer aged.Close()
	d = start(t, dir, strings.Replace(config(aged.URL), `"parallelism": 1,`, `"parallelism": 1, "abortStaleUploadsAfter": "24h",`, 1))
	waitFor(t, "the killed runs' uploads to be aborted", func() bool { return len(incompleteUploads(t, c)) == 0 })
	d.stop(t)
	if got := strings.Count(d.logs.String(), `msg="s3: aborted a stale multipart upload"`); got != len(incomplete) {
		t.Errorf("%d aborts logged, want %d", got, len(incomplete))
	}
	checkAllSent(t, inBucket(), n, "3 SIGKILLs in multipart uploads, then their uploads aborted")
}

// agedUploads is a proxy to the S3 store at target whose listings of
// multipart uploads show each one initiated two days ago.
func agedUploads(target *url.URL) http.Handler {
	initiated := regexp.MustCompile(`<Initiated>[^<]*</Initiated>`)
	p := httputil.NewSingleHostReverseProxy(target)
	p.ModifyResponse = func(resp *http.Response) error {
		if !resp.Request.URL.Query().Has("uploads") || resp.Request.Method != http.MethodGet {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		old := time.Now().Add(-48 * time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
		body = initiated.ReplaceAll(body, []byte("<Initiated>"+old+"</Initiated>"))
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	return p
}

// incompleteUploads returns the ids of the bucket's multipart uploads
// not completed nor aborted.
func incompleteUploads(t *testing.T, c *awss3.Client) []string {
	t.Helper()
	var ids []string
	p := awss3.NewListMultipartUploadsPaginator(c, &awss3.ListMultipartUploadsInput{Bucket: aws.String("logs")})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range page.Uploads {
			ids = append(ids, aws.ToString(u.UploadId))
		}
	}
	return ids
}

// bucketSeqs returns a function that reads the objects of bucket "logs"
// and counts each line's copies. It reads each key once: the s3
// destination's keys name a hash of the content.
func bucketSeqs(t *testing.T, c *awss3.Client) func() map[int64]int {
	objects := map[string][]int64{} // key -> its lines' seqs
	return func() map[int64]int {
		t.Helper()
		eachLine(t, c, func(key string) bool { _, ok := objects[key]; return ok },
			func(key string, _ *awss3.GetObjectOutput, line []byte) {
				objects[key] = append(objects[key], lineSeq(t, []byte(eventRaw(t, key, line))))
			})
		seen := map[int64]int{}
		for _, seqs := range objects {
			for _, s := range seqs {
				seen[s]++
			}
		}
		return seen
	}
}
