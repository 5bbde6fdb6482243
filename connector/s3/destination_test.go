package s3_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/s3"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/daemontest"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/syncbuf"
	"github.com/sluicehq/sluice/retry"
	"github.com/sluicehq/sluice/sluicetest"
)

// fake starts an in-process S3 (gofakes3) with bucket "b", its handler
// wrapped by wrap if not nil, and returns its URL.
func fake(t testing.TB, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("b"); err != nil {
		t.Fatal(err)
	}
	h := gofakes3.New(backend).Server()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func config(url string) s3.Config {
	c := s3.DefaultConfig("b")
	c.BucketRegion = "us-east-1"
	c.CustomEndpoint = url
	c.AccessKeyID, c.AccessSecretKey = "AKIDTEST", "secret-test-key"
	c.FlushFrequency = 5 * time.Millisecond
	c.Retry = retry.Policy{Initial: time.Millisecond, Max: 10 * time.Millisecond}
	return c
}

// client returns an S3 client for the fake at url, for reading back.
func client(t testing.TB, url string) *awss3.Client {
	t.Helper()
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(hc.CloseIdleConnections)
	return awss3.New(awss3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		UsePathStyle: true,
		HTTPClient:   hc,
		Credentials:  aws.AnonymousCredentials{},
	})
}

type object struct {
	Key, ContentType, ContentEncoding string
	Lines                             [][]byte
}

// objects lists, gets and decodes every object under prefix, by key.
func objects(t testing.TB, c *awss3.Client, prefix string) (map[string]object, error) {
	return objectsIn(c, "b", prefix)
}

// objectsIn is objects in bucket.
func objectsIn(c *awss3.Client, bucket, prefix string) (map[string]object, error) {
	out := map[string]object{}
	p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			obj, err := getIn(c, bucket, *o.Key)
			if err != nil {
				return nil, err
			}
			out[*o.Key] = obj
		}
	}
	return out, nil
}

func getIn(c *awss3.Client, bucket, key string) (object, error) {
	r, err := c.GetObject(context.Background(), &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return object{}, err
	}
	defer r.Body.Close()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return object{}, err
	}
	o := object{Key: key, ContentType: aws.ToString(r.ContentType), ContentEncoding: aws.ToString(r.ContentEncoding)}
	switch {
	case strings.HasSuffix(key, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return o, fmt.Errorf("%s: %w", key, err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			return o, fmt.Errorf("%s: %w", key, err)
		}
	case strings.HasSuffix(key, ".zst"):
		zr, err := zstd.NewReader(nil)
		if err != nil {
			return o, err
		}
		defer zr.Close()
		if body, err = zr.DecodeAll(body, nil); err != nil {
			return o, fmt.Errorf("%s: %w", key, err)
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		o.Lines = append(o.Lines, bytes.Clone(sc.Bytes()))
	}
	return o, nil
}

// decode turns an NDJSON line back into an event (the fields the tests use).
func decode(line []byte) (event.Event, error) {
	var j struct {
		TS        time.Time `json:"ts"`
		Source    string    `json:"source"`
		Raw       *string   `json:"raw"`
		RawBase64 string    `json:"rawBase64"`
	}
	if err := json.Unmarshal(line, &j); err != nil {
		return event.Event{}, err
	}
	e := event.Event{Time: j.TS, Source: j.Source}
	if j.Raw != nil {
		e.Raw = []byte(*j.Raw)
	} else {
		b, err := base64.StdEncoding.DecodeString(j.RawBase64)
		if err != nil {
			return e, err
		}
		e.Raw = b
	}
	return e, nil
}

// source is a test Source that reads new objects under a prefix of the
// fake bucket, in key order, and returns their events. It lists the keys
// and reads only the objects it has not read: reading every object at
// every poll made a Recv's cost grow with the objects written, past the
// suite's 5s per message under load (with FlushFrequency 5ms a slow
// machine writes an object for nearly every event).
type source struct {
	c      *awss3.Client
	prefix string
	mu     sync.Mutex
	seen   map[string]bool
	buf    []event.Event
}

func (s *source) Recv(ctx context.Context) (sluice.Message[event.Event], func(), error) {
	for {
		if err := ctx.Err(); err != nil {
			return sluice.Message[event.Event]{}, nil, err
		}
		s.mu.Lock()
		var err error
		if len(s.buf) == 0 {
			err = s.poll(ctx)
		}
		if len(s.buf) > 0 {
			e := s.buf[0]
			s.buf = s.buf[1:]
			s.mu.Unlock()
			return sluice.Message[event.Event]{Value: e}, sluice.Noop, nil
		}
		s.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			return sluice.Message[event.Event]{}, nil, err
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// poll reads the objects not read before into buf, in key order.
func (s *source) poll(ctx context.Context) error {
	var keys []string
	p := awss3.NewListObjectsV2Paginator(s.c, &awss3.ListObjectsV2Input{Bucket: aws.String("b"), Prefix: aws.String(s.prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			if !s.seen[*o.Key] {
				keys = append(keys, *o.Key)
			}
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		obj, err := getIn(s.c, "b", k)
		if err != nil {
			return err
		}
		s.seen[k] = true
		for _, l := range obj.Lines {
			e, err := decode(l)
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			s.buf = append(s.buf, e)
		}
	}
	return nil
}

var _ sluice.Source[event.Event] = (*source)(nil)

func TestConformance(t *testing.T) {
	sluicetest.Suite[event.Event]{
		Features: sluicetest.Features{ConcurrentSend: true, ConcurrentRecv: true},
		NewPair: func(t *testing.T, name string) (sluice.Source[event.Event], sluice.Destination[event.Event]) {
			url := fake(t, nil)
			c := config(url)
			c.PathPrefix = name
			c.BatchSize = 16
			d, err := s3.New(c)
			if err != nil {
				t.Fatal(err)
			}
			return &source{c: client(t, url), prefix: name + "/", seen: map[string]bool{}}, d
		},
		Wrap: func(p []byte) sluice.Message[event.Event] {
			return sluice.Message[event.Event]{Value: event.Event{Raw: p, Time: time.Now(), Source: "conf"}}
		},
		Unwrap: func(m sluice.Message[event.Event]) []byte { return m.Value.Raw },
	}.Run(t)
}

// run runs d until the test ends; stop cancels it and returns Run's error.
func run(t *testing.T, d *s3.Destination) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// send sends msgs in one Send and waits for its ack.
func send(t *testing.T, d *s3.Destination, msgs ...sluice.Message[event.Event]) {
	t.Helper()
	acked := make(chan struct{})
	if err := d.Send(t.Context(), func() { close(acked) }, msgs...); err != nil {
		t.Fatal(err)
	}
	select {
	case <-acked:
	case <-time.After(60 * time.Second): // generous: a 6 MB multipart under -race on a loaded machine took over 10s
		t.Fatal("no ack")
	}
}

func msg(source string, ts time.Time, raw string) sluice.Message[event.Event] {
	return sluice.Message[event.Event]{Value: event.Event{Source: source, Time: ts, ReceivedAt: time.Now(), Raw: []byte(raw)}}
}

func mustObjects(t *testing.T, c *awss3.Client, prefix string) map[string]object {
	t.Helper()
	objs, err := objects(t, c, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func TestKeysUseEventTime(t *testing.T) {
	url := fake(t, nil)
	c := config(url)
	c.PathPrefix = "logs"
	c.BatchSize = 5
	d, err := s3.New(c)
	if err != nil {
		t.Fatal(err)
	}
	run(t, d)
	t1 := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	t2 := t1.Add(time.Hour)
	// One batch: two sources, two hours of "web" (one in another zone).
	send(t, d,
		msg("web", t1, "a"), msg("db", t1, "b"), msg("web", t2.In(time.FixedZone("X", 5*3600)), "c"),
		msg("web", t1.Add(time.Minute), "d"), msg("we/b x", t1, "e"))
	objs := mustObjects(t, client(t, url), "")
	want := map[string]string{ // key pattern: raws
		`^logs/2020/01/02/03/web-20200102T030405Z-[0-9a-f]{32}\.ndjson\.gz$`:    "a,d",
		`^logs/2020/01/02/03/db-20200102T030405Z-[0-9a-f]{32}\.ndjson\.gz$`:     "b",
		`^logs/2020/01/02/04/web-20200102T040405Z-[0-9a-f]{32}\.ndjson\.gz$`:    "c",
		`^logs/2020/01/02/03/we_b_x-20200102T030405Z-[0-9a-f]{32}\.ndjson\.gz$`: "e",
	}
	if len(objs) != len(want) {
		t.Fatalf("got %d objects %v, want %d", len(objs), keys(objs), len(want))
	}
	for pat, raws := range want {
		found := false
		for k, o := range objs {
			if regexp.MustCompile(pat).MatchString(k) {
				found = true
				var got []string
				for _, l := range o.Lines {
					e, err := decode(l)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, string(e.Raw))
				}
				if strings.Join(got, ",") != raws {
					t.Errorf("%s holds %v, want %s", k, got, raws)
				}
			}
		}
		if !found {
			t.Errorf("no key matches %s in %v", pat, keys(objs))
		}
	}
}

func keys(m map[string]object) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func TestSameBatchSameKey(t *testing.T) {
	url := fake(t, nil)
	c := config(url)
	c.BatchSize = 3
	d, err := s3.New(c)
	if err != nil {
		t.Fatal(err)
	}
	run(t, d)
	ts := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	batch := []sluice.Message[event.Event]{msg("s", ts, "x"), msg("s", ts, "y"), msg("s", ts, "z")}
	for i := range batch {
		batch[i].Value.ReceivedAt = ts
	}
	send(t, d, batch...)
	send(t, d, batch...)
	objs := mustObjects(t, client(t, url), "")
	if len(objs) != 1 {
		t.Fatalf("the same batch twice made %d objects, want 1: %v", len(objs), keys(objs))
	}
	send(t, d, batch[1:]...)
	if objs := mustObjects(t, client(t, url), ""); len(objs) != 2 {
		t.Fatalf("another batch: %d objects, want 2: %v", len(objs), keys(objs))
	}
}

func TestCompression(t *testing.T) {
	for _, tc := range []struct{ compression, ext, encoding string }{
		{"gzip", ".gz", "gzip"}, {"zstd", ".zst", "zstd"}, {"none", "", ""},
	} {
		t.Run(tc.compression, func(t *testing.T) {
			url := fake(t, nil)
			c := config(url)
			c.Compression = tc.compression
			c.BatchSize = 100
			d, err := s3.New(c)
			if err != nil {
				t.Fatal(err)
			}
			run(t, d)
			var msgs []sluice.Message[event.Event]
			for i := range 100 {
				msgs = append(msgs, msg("s", time.Now(), fmt.Sprintf("line %d \xff", i)))
			}
			send(t, d, msgs...)
			objs := mustObjects(t, client(t, url), "")
			if len(objs) != 1 {
				t.Fatalf("%d objects, want 1", len(objs))
			}
			for k, o := range objs {
				if !strings.HasSuffix(k, ".ndjson"+tc.ext) {
					t.Errorf("key %s does not end in .ndjson%s", k, tc.ext)
				}
				if o.ContentType != "application/x-ndjson" || o.ContentEncoding != tc.encoding {
					t.Errorf("Content-Type %q, Content-Encoding %q; want application/x-ndjson, %q", o.ContentType, o.ContentEncoding, tc.encoding)
				}
				if len(o.Lines) != 100 {
					t.Fatalf("%d lines, want 100", len(o.Lines))
				}
				for i, l := range o.Lines {
					e, err := decode(l)
					if err != nil || string(e.Raw) != fmt.Sprintf("line %d \xff", i) {
						t.Fatalf("line %d: %q, %v", i, e.Raw, err)
					}
				}
			}
		})
	}
}

// TestJSONRaw writes a parsed syslog event, an unparsed one and one whose
// parse failed, and checks which of their lines carry "raw".
func TestJSONRaw(t *testing.T) {
	ts := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	parsed := event.Event{Source: "s", Time: ts, ReceivedAt: ts, Raw: []byte("<13>1 - h app - - - hi"),
		Syslog: event.Syslog{Present: true, Facility: 1, Severity: 5, Version: 1, Hostname: "h", AppName: "app", Message: "hi"}}
	unparsed := event.Event{Source: "s", Time: ts, ReceivedAt: ts, Raw: []byte("plain")}
	failed := event.Event{Source: "s", Time: ts, ReceivedAt: ts, Raw: []byte("<13 broken"), Flags: event.ParseError}
	for _, tc := range []struct {
		name, jsonRaw, compression string
		want                       []bool // whether each event's line has "raw"
	}{
		{"default", "", "gzip", []bool{true, true, true}},
		{"always", "always", "gzip", []bool{true, true, true}},
		{"unparsed", "unparsed", "gzip", []bool{false, true, true}},
		{"unparsed uncompressed", "unparsed", "none", []bool{false, true, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := fake(t, nil)
			c := config(url)
			c.JSONRaw = tc.jsonRaw
			c.Compression = tc.compression
			c.BatchSize = 3
			d, err := s3.New(c)
			if err != nil {
				t.Fatal(err)
			}
			run(t, d)
			send(t, d, sluice.Message[event.Event]{Value: parsed}, sluice.Message[event.Event]{Value: unparsed}, sluice.Message[event.Event]{Value: failed})
			objs := mustObjects(t, client(t, url), "")
			if len(objs) != 1 {
				t.Fatalf("%d objects, want 1: %v", len(objs), keys(objs))
			}
			for _, o := range objs {
				if len(o.Lines) != len(tc.want) {
					t.Fatalf("%d lines, want %d", len(o.Lines), len(tc.want))
				}
				for i, l := range o.Lines {
					var m map[string]json.RawMessage
					if err := json.Unmarshal(l, &m); err != nil {
						t.Fatalf("line %d: %v: %s", i, err, l)
					}
					if _, ok := m["raw"]; ok != tc.want[i] {
						t.Errorf("line %d has raw: %v, want %v: %s", i, ok, tc.want[i], l)
					}
					if _, ok := m["rawBase64"]; ok {
						t.Errorf("line %d has rawBase64: %s", i, l)
					}
					if _, ok := m["syslog"]; i == 0 && !ok {
						t.Errorf("parsed line has no syslog: %s", l)
					}
				}
			}
		})
	}
}

func TestMultipart(t *testing.T) {
	var parts, puts atomic.Int32
	url := fake(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && r.URL.Query().Has("partNumber") {
				parts.Add(1)
			} else if r.Method == http.MethodPut {
				puts.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})
	c := config(url)
	c.Compression = "none"
	c.MultipartThreshold = s3.MinPartSize
	const n = 6000
	c.BatchSize = n
	d, err := s3.New(c)
	if err != nil {
		t.Fatal(err)
	}
	run(t, d)
	raw := strings.Repeat("m", 1000)
	msgs := make([]sluice.Message[event.Event], n)
	ts := time.Now()
	for i := range msgs {
		msgs[i] = msg("s", ts, fmt.Sprintf("%06d%s", i, raw))
	}
	send(t, d, msgs...)
	objs := mustObjects(t, client(t, url), "")
	if len(objs) != 1 {
		t.Fatalf("%d objects, want 1", len(objs))
	}
	for _, o := range objs {
		if len(o.Lines) != n {
			t.Fatalf("%d lines, want %d", len(o.Lines), n)
		}
		if o.ContentType != "application/x-ndjson" {
			t.Errorf("Content-Type %q", o.ContentType)
		}
	}
	if parts.Load() != 2 || puts.Load() != 0 {
		t.Errorf("%d parts and %d PutObjects, want 2 parts (a %d-byte batch, 5 MiB parts) and no PutObject", parts.Load(), puts.Load(), n*1100)
	}
}

// slowDown answers the first n object PUTs with 503 SlowDown.
func slowDown(n int32, count *atomic.Int32) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Count(strings.Trim(r.URL.Path, "/"), "/") >= 1 && count.Add(1) <= n {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

func TestThrottlingRetried(t *testing.T) {
	var count atomic.Int32
	url := fake(t, slowDown(3, &count))
	c := config(url)
	c.BatchSize = 2
	var mu sync.Mutex
	var causes []string
	d, err := s3.New(c, s3.WithFailed(func(cause string) { mu.Lock(); causes = append(causes, cause); mu.Unlock() }))
	if err != nil {
		t.Fatal(err)
	}
	run(t, d)
	send(t, d, msg("s", time.Now(), "1"), msg("s", time.Now(), "2"))
	if objs := mustObjects(t, client(t, url), ""); len(objs) != 1 {
		t.Fatalf("%d objects, want 1", len(objs))
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(causes, ",") != "s3_throttled,s3_throttled,s3_throttled" {
		t.Errorf("causes %v, want 3 × s3_throttled", causes)
	}
}

func Test5xxRetried(t *testing.T) {
	var n atomic.Int32
	url := fake(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && n.Add(1) <= 2 {
				http.Error(w, "boom", http.StatusBadGateway)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	c := config(url)
	c.BatchSize = 1
	d, err := s3.New(c)
	if err != nil {
		t.Fatal(err)
	}
	run(t, d)
	send(t, d, msg("s", time.Now(), "1"))
	if objs := mustObjects(t, client(t, url), ""); len(objs) != 1 {
		t.Fatalf("%d objects, want 1", len(objs))
	}
}

func TestMissingBucket(t *testing.T) {
	url := fake(t, nil)
	c := config(url)
	c.BucketName = "nope"
	d, err := s3.New(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err = d.Run(ctx)
	want := fmt.Sprintf("s3: bucket \"nope\" at %s: not found", url)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Run: %v, want %s", err, want)
	}
	if strings.Contains(err.Error(), "secret-test-key") {
		t.Fatal("the secret is in the error")
	}
	if err := d.Run(ctx); !errors.Is(err, sluice.ErrAlreadyRunning) {
		t.Fatalf("second Run: %v", err)
	}
}

// downAddr returns an address on which nothing listens (connections are
// refused) and that the test may listen on later.
func downAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestStopDuringBucketCheck stops the Destination while its start-up
// bucket check is retrying against an endpoint that is down, holding
// events: they are neither uploaded nor acked, Run says how many at Error
// and returns ErrUndelivered; a new Destination, given the same events
// again (as a durable source redelivers them), stores every one once the
// endpoint is up.
func TestStopDuringBucketCheck(t *testing.T) {
	addr := downAddr(t)
	url := "http://" + addr
	c := config(url)
	c.BatchSize = 100
	c.Retry = retry.Policy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}
	var buf syncbuf.Buffer
	d, err := s3.New(c, s3.WithLogger(newLogger(&buf)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	const n = 42
	var events []sluice.Message[event.Event]
	for i := range n {
		events = append(events, msg("s", time.Now(), fmt.Sprintf("event-%d", i)))
	}
	var acks atomic.Int32
	for i := range n { // one Send per event, as a source's loop does
		if err := d.Send(t.Context(), func() { acks.Add(1) }, events[i]); err != nil {
			t.Fatal(err)
		}
	}
	waitLog(t, &buf, "bucket check failed, retrying")
	cancel()
	err = <-done
	if !errors.Is(err, sluice.ErrUndelivered) || !strings.Contains(err.Error(), fmt.Sprintf("%d messages not delivered", n)) {
		t.Fatalf("Run: %v, want ErrUndelivered for %d messages", err, n)
	}
	if got := acks.Load(); got != 0 {
		t.Fatalf("%d events acked, want none", got)
	}
	logs := buf.String()
	if !regexp.MustCompile(`level=ERROR msg="batch: stopped before it could start;[^"]*" messages=42`).MatchString(logs) {
		t.Errorf("logs do not count the events held at Error:\n%s", logs)
	}
	if !strings.Contains(logs, "cannot connect") || strings.Contains(logs, "secret-test-key") {
		t.Errorf("logs do not say why, or show the secret:\n%s", logs)
	}
	if err := d.Send(t.Context(), nil, events[0]); !errors.Is(err, sluice.ErrClosed) {
		t.Errorf("Send after the stop: %v, want ErrClosed", err)
	}

	// The restart, with the endpoint up on the same address.
	up := fakeAt(t, addr)
	d2, err := s3.New(c)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, d2)
	send(t, d2, events...)
	if err := stop(); err != nil {
		t.Fatalf("Run after the restart: %v", err)
	}
	got := map[string]int{}
	for _, o := range mustObjects(t, client(t, up), "") {
		for _, l := range o.Lines {
			var e struct{ Raw string }
			if err := json.Unmarshal(l, &e); err != nil {
				t.Fatal(err)
			}
			got[e.Raw]++
		}
	}
	for i := range n {
		if k := fmt.Sprintf("event-%d", i); got[k] != 1 {
			t.Errorf("%s stored %d times, want 1", k, got[k])
		}
	}
}

// TestBucketCheckRetriedUntilUp starts with the endpoint down and brings
// it up while the bucket check retries: what was sent meanwhile is
// uploaded and acked.
func TestBucketCheckRetriedUntilUp(t *testing.T) {
	addr := downAddr(t)
	c := config("http://" + addr)
	c.Retry = retry.Policy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}
	var buf syncbuf.Buffer
	d, err := s3.New(c, s3.WithLogger(newLogger(&buf)))
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	acked := make(chan struct{})
	if err := d.Send(t.Context(), func() { close(acked) }, msg("s", time.Now(), "held")); err != nil {
		t.Fatal(err)
	}
	waitLog(t, &buf, "bucket check failed, retrying")
	url := fakeAt(t, addr)
	select {
	case <-acked:
	case <-time.After(10 * time.Second):
		t.Fatal("not acked once the endpoint was up")
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if objs := mustObjects(t, client(t, url), ""); len(objs) != 1 {
		t.Errorf("%d objects, want 1", len(objs))
	}
}

// fakeAt starts fake S3 (with bucket "b") listening on addr.
func fakeAt(t *testing.T, addr string) string {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("b"); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s again: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(gofakes3.New(backend).Server())
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func waitLog(t *testing.T, buf *syncbuf.Buffer, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), what) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the logs:\n%s", what, buf.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// forbidden answers object PUTs with 403 AccessDenied.
func forbidden(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func TestPermanentErrorToDeadLetter(t *testing.T) {
	url := fake(t, forbidden)
	c := config(url)
	c.BatchSize = 2
	var mu sync.Mutex
	var dead []sluice.Message[event.Event]
	dl := sluice.DestinationFunc[event.Event](func(ctx context.Context, ack func(), msgs ...sluice.Message[event.Event]) error {
		mu.Lock()
		dead = append(dead, msgs...)
		mu.Unlock()
		sluice.Ack(ack)
		return nil
	})
	d, err := s3.New(c, s3.WithDeadLetter(dl))
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	send(t, d, msg("s", time.Now(), "1"), msg("s", time.Now(), "2"))
	mu.Lock()
	if len(dead) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dead))
	}
	e := dead[0].Attributes
	mu.Unlock()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := fmt.Sprint(e)
	if !strings.Contains(got, `in bucket "b" at `+url+`: access denied (AccessDenied: Access Denied)`) {
		t.Errorf("dead letter attrs %s, want the error", got)
	}
}

func TestPermanentErrorStopsRun(t *testing.T) {
	url := fake(t, forbidden)
	c := config(url)
	c.BatchSize = 1
	d, err := s3.New(c)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(t.Context()) }()
	acked := false
	if err := d.Send(t.Context(), func() { acked = true }, msg("s", time.Now(), "1")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "access denied") || strings.Contains(err.Error(), "secret-test-key") {
			t.Fatalf("Run: %v", err)
		}
		if acked {
			t.Fatal("acked")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
}

func TestNewChecks(t *testing.T) {
	for _, tc := range []struct {
		c    s3.Config
		want string
	}{
		{s3.Config{}, "s3: bucketName: required"},
		{s3.Config{BucketName: "b", Compression: "lz4"}, "compression"},
		{s3.Config{BucketName: "b", KeyTemplate: "{yyyy}/x"}, "{hash}"},
		{s3.Config{BucketName: "b", KeyTemplate: "{hash}{yy}"}, "want placeholders among"},
		{s3.Config{BucketName: "b", MultipartThreshold: 1 << 20}, "multipartThreshold"},
		{s3.Config{BucketName: "b", CustomEndpoint: "localhost:9000"}, "customEndpoint"},
		{s3.Config{BucketName: "b", AccessSecretKey: "sekrit"}, "accessKeyID: required with accessSecretKey"},
		{s3.Config{BucketName: "b", JSONRaw: "never"}, `jsonRaw: want always or unparsed, got "never"`},
		{s3.Config{BucketName: "b", AbortStaleUploadsAfter: 30 * time.Minute}, "abortStaleUploadsAfter: want 0 (off) or at least 1h, got 30m0s"},
		{s3.Config{BucketName: "b", AbortStaleUploadsAfter: -time.Hour}, "abortStaleUploadsAfter: want 0 (off) or at least 1h, got -1h0m0s"},
	} {
		_, err := s3.New(tc.c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): %v, want %q", tc.c, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "sekrit") {
			t.Errorf("the secret is in %v", err)
		}
	}
}

func TestKawaConfigLoads(t *testing.T) {
	t.Setenv("SECRET", "kawa-secret-value")
	r := daemontest.Registry(s3.Register)
	load := func(dest string) (*daemon.Plan, error) {
		return daemon.Load([]byte(`{
			"sources": {"in": {"type": "test"}},
			"destinations": {"out": `+dest+`},
			"routes": [{"from": ["in"], "to": ["out"]}],
		}`), r)
	}
	kawa := `{"type":"s3","bucketName":"b","bucketRegion":"us-east-2","pathPrefix":"logs","customEndpoint":"http://127.0.0.1:9000","accessKeyID":"AKIAEXAMPLE","accessSecretKey":"$SECRET"}`
	p, err := load(kawa)
	if err != nil {
		t.Fatal(err)
	}
	c := p.Destinations[0].Config.(*s3.Config)
	want := s3.DefaultConfig("b")
	want.BucketRegion, want.PathPrefix, want.CustomEndpoint = "us-east-2", "logs", "http://127.0.0.1:9000"
	want.AccessKeyID, want.AccessSecretKey = "AKIAEXAMPLE", "kawa-secret-value"
	if *c != want {
		t.Fatalf("config %+v, want %+v", *c, want)
	}
	if s := fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(s, "kawa-secret-value") {
		t.Fatalf("the secret prints: %s", s)
	}
	// Errors never show the secret.
	_, err = load(strings.Replace(kawa, `"type":"s3"`, `"type":"s3","compression":"lz4","accessSecretKey2":1`, 1))
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), "kawa-secret-value") {
		t.Fatalf("the secret is in %v", err)
	}
	_, err = load(`{"type":"s3","bucketName":"b","accessKeyID":"A","accessSecretKey":"$SECRET","flushFrequency":"2s","batchSize":50,"compression":"zstd","parallelism":2}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err = load(`{"type":"s3","bucketName":"b","jsonRaw":"unparsed"}`); err != nil {
		t.Fatalf("jsonRaw unparsed: %v", err)
	}
	if _, err = load(`{"type":"s3","bucketName":"b","jsonRaw":"sometimes"}`); err == nil || !strings.Contains(err.Error(), `jsonRaw: want always or unparsed, got "sometimes"`) {
		t.Fatalf("bad jsonRaw: %v", err)
	}
	if _, err = load(`{"type":"s3","bucketName":"b","abortStaleUploadsAfter":"24h"}`); err != nil {
		t.Fatalf("abortStaleUploadsAfter 24h: %v", err)
	}
	if _, err = load(`{"type":"s3","bucketName":"b","abortStaleUploadsAfter":"10m"}`); err == nil ||
		!strings.Contains(err.Error(), "destinations.out.abortStaleUploadsAfter: want 0 (off) or at least 1h, got 10m0s") {
		t.Fatalf("abortStaleUploadsAfter 10m: %v", err)
	}
	if _, err = load(`{"type":"s3","bucketRegion":"x"}`); err == nil || !strings.Contains(err.Error(), "bucketName") {
		t.Fatalf("missing bucketName: %v", err)
	}
}

func TestBucketForbidden(t *testing.T) {
	url := fake(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodHead {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	d, err := s3.New(config(url))
	if err != nil {
		t.Fatal(err)
	}
	err = d.Run(t.Context())
	want := fmt.Sprintf("s3: bucket \"b\" at %s: access denied", url)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Run: %v, want %s", err, want)
	}
}

// TestErrorMessageMasksCredentials: a server whose error message echoes
// the signed request (its Authorization header names the access key) or
// the secret key does not get them into the error.
func TestErrorMessageMasksCredentials(t *testing.T) {
	url := fake(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPut {
				h.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>bad %s for secret-test-key</Message></Error>`,
				r.Header.Get("Authorization"))
		})
	})
	c := config(url)
	c.BatchSize = 1
	d, err := s3.New(c)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(t.Context()) }()
	if err := d.Send(t.Context(), nil, msg("s", time.Now(), "1")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "access denied (AccessDenied: bad AWS4-HMAC-SHA256 Credential=REDACTED/") {
			t.Fatalf("Run: %v, want the echoed request with the key masked", err)
		}
		if strings.Contains(err.Error(), "AKIDTEST") || strings.Contains(err.Error(), "secret-test-key") {
			t.Fatalf("Run: %v shows a credential", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
}
