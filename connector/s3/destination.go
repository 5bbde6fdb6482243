package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/retry"
)

// Destination writes events to S3 objects. It is a [sluice.Runner]:
// nothing is uploaded unless Run runs. Send is safe for concurrent use.
// See the package doc for when an event is acked.
type Destination struct {
	*batch.Destination[event.Event]
	w       *writer
	running atomic.Bool
}

// Option configures a Destination with what cannot be serialised.
type Option func(*options)

type options struct {
	log        *slog.Logger
	flushed    func(n, bytes int, d time.Duration)
	failed     func(cause string)
	deadLetter sluice.Destination[event.Event]
	httpClient *http.Client
	staleEvery time.Duration // for tests; default staleScanEvery
}

// WithLogger sets the logger for retries (Warn), batches sent to the dead
// letter (Warn) and fatal errors (Error). It never logs event contents or
// credentials. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithFlushed sets a function called after each batch is stored, with its
// number of events, the bytes uploaded and how long encoding and
// uploading took, for metrics.
func WithFlushed(f func(n, bytes int, d time.Duration)) Option {
	return func(o *options) { o.flushed = f }
}

// WithFailed sets a function called for each failed upload attempt, with
// a cause such as "s3_throttled", "s3_5xx", "s3_network" or "s3_rejected".
func WithFailed(f func(cause string)) Option { return func(o *options) { o.failed = f } }

// WithDeadLetter sends batches that failed permanently (403, 404, 400...)
// to d instead of stopping Run; see [batch.WithDeadLetter]. Default: none,
// and such a failure is fatal.
func WithDeadLetter(d sluice.Destination[event.Event]) Option {
	return func(o *options) { o.deadLetter = d }
}

// WithHTTPClient sets the HTTP client of the S3 client. Default: the AWS
// SDK's.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// New returns a Destination writing to c.BucketName. Zero fields of c take
// the defaults of [DefaultConfig]. It checks c and does no I/O: the S3
// client is made, and the bucket checked, by Run.
func New(c Config, opts ...Option) (*Destination, error) {
	if err := config.Required("s3", config.Field{Path: "bucketName", Empty: c.BucketName == ""}); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	c = c.withDefaults()
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	jo, _ := event.JSONRaw(c.JSONRaw)
	w := &writer{cfg: c, json: jo, o: o}
	switch c.Compression {
	case "gzip":
		w.ext, w.encoding = ".gz", "gzip"
	case "zstd":
		w.ext, w.encoding = ".zst", "zstd"
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("s3: zstd: %w", err)
		}
		w.zstd = enc
	}
	if c.AbortStaleUploadsAfter > 0 {
		w.ownKey = keyPattern(c.KeyTemplate, w.prefix(), w.ext)
	}
	bopts := []batch.Option[event.Event]{
		batch.WithLogger[event.Event](o.log),
		batch.WithSize(func(m *sluice.Message[event.Event]) int { return len(m.Value.Raw) + 256 }),
	}
	if o.deadLetter != nil {
		bopts = append(bopts, batch.WithDeadLetter(o.deadLetter))
	}
	b, err := batch.New(batch.Config{
		Count:       c.BatchSize,
		Bytes:       c.BatchBytes,
		Age:         c.FlushFrequency,
		Parallelism: c.Parallelism,
		Retry:       c.Retry,
	}, batch.FlushFunc[event.Event](w.flush), bopts...)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	return &Destination{Destination: b, w: w}, nil
}

// Run makes the S3 client, checks the bucket with HeadBucket, then uploads
// batches until ctx is done and what it holds is flushed (see
// [batch.Destination.Run]). With Config.AbortStaleUploadsAfter, it also
// aborts stale multipart uploads, from the bucket check on until ctx is
// done.
//
// A bucket that does not exist or may not be accessed is a fatal error:
// Run returns at once, naming the bucket and the endpoint. A network error
// (or a 5xx) at start is retried with the back-off of Config.Retry and
// logged at Warn, so that sluiced may start before its network or a local
// MinIO is up; events are buffered (and Send blocks when the buffer is
// full) until the check succeeds. If ctx is done, or the check fails,
// before then, the events held are neither uploaded nor acked: Run logs
// how many at Error and returns an error saying so, wrapping
// [sluice.ErrUndelivered] after a stop (see [batch.Destination.RunAfter]).
// A second call returns [sluice.ErrAlreadyRunning].
func (d *Destination) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return sluice.ErrAlreadyRunning
	}
	defer d.w.closeIdle()
	var cleaner sync.WaitGroup
	cctx, stopCleaner := context.WithCancel(ctx)
	defer cleaner.Wait()
	defer stopCleaner()
	return d.Destination.RunAfter(ctx, func(ctx context.Context) error {
		if err := d.w.start(ctx); err != nil {
			return err
		}
		if d.w.ownKey != nil {
			cleaner.Go(func() { d.w.cleanStale(cctx) })
		}
		return nil
	})
}

// start makes the client and checks the bucket, retrying what may pass.
func (w *writer) start(ctx context.Context) error {
	if err := w.connect(ctx); err != nil {
		return err
	}
	return retry.DoNotify(ctx, w.cfg.Retry, nil, w.headBucket, func(attempt int, delay time.Duration, err error) {
		w.o.log.Warn("s3: bucket check failed, retrying", "attempt", attempt, "delay", delay, "error", err)
	})
}

// writer encodes and uploads batches; its client is set by connect,
// before the batch destination's Run starts any flush.
type writer struct {
	cfg      Config
	json     event.JSONOptions // of cfg.JSONRaw
	o        options
	ext      string // ".gz", ".zst" or ""
	encoding string // Content-Encoding: "gzip", "zstd" or ""
	zstd     *zstd.Encoder

	client   *awss3.Client
	endpoint string // for errors
	closer   interface{ CloseIdleConnections() }

	pool sync.Pool // *scratch

	up     uploads        // this process's multipart uploads
	ownKey *regexp.Regexp // the keys this destination makes; nil unless AbortStaleUploadsAfter
}

// connect makes the S3 client. It does no network I/O unless the
// credential chain does (reading files, or the EC2/ECS metadata service
// lazily, on the first request).
func (w *writer) connect(ctx context.Context) error {
	c := w.cfg
	var opts []func(*awsconfig.LoadOptions) error
	if c.BucketRegion != "" {
		opts = append(opts, awsconfig.WithRegion(c.BucketRegion))
	}
	if c.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.AccessSecretKey.Reveal(), "")))
	}
	if w.o.httpClient != nil {
		w.closer = w.o.httpClient // set on the S3 client below
	} else {
		hc := awshttp.NewBuildableClient()
		opts = append(opts, awsconfig.WithHTTPClient(hc))
		w.closer = hc.GetTransport()
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		// The error names a file or a profile, never a secret.
		return fmt.Errorf("s3: aws configuration: %w", err)
	}
	if ac.Region == "" {
		ac.Region = "us-east-1"
	}
	w.endpoint = "https://s3." + ac.Region + ".amazonaws.com"
	if c.CustomEndpoint != "" {
		w.endpoint = strings.TrimRight(c.CustomEndpoint, "/")
	}
	w.client = awss3.NewFromConfig(ac, func(o *awss3.Options) {
		if w.o.httpClient != nil {
			o.HTTPClient = w.o.httpClient
		}
		if c.CustomEndpoint != "" {
			o.BaseEndpoint = aws.String(c.CustomEndpoint)
			o.UsePathStyle = true
		}
		// Retries are ours (batch and retry), with back-off and logs.
		o.Retryer = aws.NopRetryer{}
		// Checksums only where S3 requires them: S3-compatible services
		// (R2, MinIO, older ones) differ in what they accept. The body is
		// still covered by the SigV4 payload hash, or by TLS.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return nil
}

func (w *writer) closeIdle() {
	if w.closer != nil {
		w.closer.CloseIdleConnections()
	}
}

func (w *writer) headBucket(ctx context.Context) error {
	_, err := w.client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(w.cfg.BucketName)})
	if err == nil {
		return nil
	}
	e := w.error("check bucket", "", err)
	if ctx.Err() != nil {
		return err
	}
	return e
}

// flush writes one batch: one object per (source, hour) of its events.
func (w *writer) flush(ctx context.Context, msgs []sluice.Message[event.Event]) error {
	start := time.Now()
	s, _ := w.pool.Get().(*scratch)
	if s == nil {
		s = new(scratch)
	}
	defer w.pool.Put(s)
	size := 0
	for _, part := range s.partition(msgs) {
		o, err := w.encode(s, msgs, part)
		if err != nil {
			return err
		}
		if err := w.put(ctx, o); err != nil {
			return err
		}
		size += len(o.body)
	}
	if w.o.flushed != nil {
		w.o.flushed(len(msgs), size, time.Since(start))
	}
	return nil
}

// object is one encoded object, ready to upload; body is valid until the
// scratch is reused.
type object struct {
	key  string
	body []byte
}

// scratch holds the buffers of one flush, reused across flushes.
type scratch struct {
	lines []byte
	out   bytes.Buffer
	gz    *gzip.Writer
	zbuf  []byte
	parts []part
}

// part is the events of one object: msgs[idx[lo:hi]], or msgs[lo:hi] when
// the batch is one part (idx is nil).
type part struct {
	lo, hi int
	idx    []int
}

// partition splits msgs by (source, hour of event time), keeping their
// order. A batch from one source within one hour, the common case, is one
// part and allocates nothing.
func (s *scratch) partition(msgs []sluice.Message[event.Event]) []part {
	s.parts = s.parts[:0]
	if len(msgs) == 0 {
		return s.parts
	}
	src, hour := msgs[0].Value.Source, hourOf(&msgs[0].Value)
	same := true
	for i := 1; i < len(msgs); i++ {
		if msgs[i].Value.Source != src || hourOf(&msgs[i].Value) != hour {
			same = false
			break
		}
	}
	if same {
		s.parts = append(s.parts, part{lo: 0, hi: len(msgs)})
		return s.parts
	}
	type k struct {
		src  string
		hour int64
	}
	groups := map[k][]int{}
	var order []k
	for i := range msgs {
		key := k{msgs[i].Value.Source, hourOf(&msgs[i].Value)}
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], i)
	}
	for _, key := range order {
		g := groups[key]
		s.parts = append(s.parts, part{lo: 0, hi: len(g), idx: g})
	}
	return s.parts
}

func hourOf(e *event.Event) int64 { return e.Timestamp().Unix() / 3600 }

// encode makes part's object: NDJSON, hashed, then compressed.
func (w *writer) encode(s *scratch, msgs []sluice.Message[event.Event], p part) (object, error) {
	at := func(i int) *event.Event {
		if p.idx != nil {
			return &msgs[p.idx[i]].Value
		}
		return &msgs[i].Value
	}
	b := s.lines[:0]
	for i := p.lo; i < p.hi; i++ {
		b = at(i).AppendJSONWith(b, w.json)
		b = append(b, '\n')
	}
	s.lines = b
	sum := sha256.Sum256(b)
	first := at(p.lo)
	key := w.key(first.Source, first.Timestamp().UTC(), hex.EncodeToString(sum[:16]))
	body, err := w.compress(s, b)
	if err != nil {
		return object{}, err
	}
	return object{key: key, body: body}, nil
}

// compress returns b compressed by the configured method, in s's buffer.
func (w *writer) compress(s *scratch, b []byte) ([]byte, error) {
	switch w.encoding {
	case "gzip":
		s.out.Reset()
		if s.gz == nil {
			s.gz = gzip.NewWriter(&s.out)
		} else {
			s.gz.Reset(&s.out)
		}
		if _, err := s.gz.Write(b); err != nil {
			return nil, fmt.Errorf("s3: gzip: %w", err)
		}
		if err := s.gz.Close(); err != nil {
			return nil, fmt.Errorf("s3: gzip: %w", err)
		}
		return s.out.Bytes(), nil
	case "zstd":
		s.zbuf = w.zstd.EncodeAll(b, s.zbuf[:0])
		return s.zbuf, nil
	}
	return b, nil
}

// prefix returns {prefix}: PathPrefix, with a trailing "/" when not empty.
func (w *writer) prefix() string {
	prefix := w.cfg.PathPrefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return prefix
}

// key expands the key template.
func (w *writer) key(source string, t time.Time, hash string) string {
	r := strings.NewReplacer(
		"{prefix}", w.prefix(),
		"{yyyy}", fmt.Sprintf("%04d", t.Year()),
		"{mm}", fmt.Sprintf("%02d", int(t.Month())),
		"{dd}", fmt.Sprintf("%02d", t.Day()),
		"{hh}", fmt.Sprintf("%02d", t.Hour()),
		"{source}", safeName(source),
		"{first}", t.Format("20060102T150405Z"),
		"{hash}", hash,
		"{ext}", w.ext,
	)
	return r.Replace(w.cfg.KeyTemplate)
}

// safeName makes a source name safe as one key segment: letters, digits,
// '.', '_' and '-'; anything else becomes '_'; empty becomes "unknown".
func safeName(s string) string {
	if s == "" {
		return "unknown"
	}
	ok := true
	for i := 0; i < len(s); i++ {
		if !safeByte(s[i]) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	b := []byte(s)
	for i := range b {
		if !safeByte(b[i]) {
			b[i] = '_'
		}
	}
	return string(b)
}

func safeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// put stores o, in parts when it is larger than the multipart threshold.
func (w *writer) put(ctx context.Context, o object) error {
	if int64(len(o.body)) > w.cfg.MultipartThreshold {
		return w.putMultipart(ctx, o)
	}
	in := &awss3.PutObjectInput{
		Bucket:        aws.String(w.cfg.BucketName),
		Key:           aws.String(o.key),
		Body:          bytes.NewReader(o.body),
		ContentLength: aws.Int64(int64(len(o.body))),
		ContentType:   aws.String("application/x-ndjson"),
	}
	if w.encoding != "" {
		in.ContentEncoding = aws.String(w.encoding)
	}
	if _, err := w.client.PutObject(ctx, in); err != nil {
		return w.fail(ctx, "put", o.key, err)
	}
	return nil
}

// putMultipart uploads o in parts of MultipartThreshold bytes, up to 4
// at a time, and aborts the upload if any part fails. (The SDK's
// feature/s3/manager uploader is deprecated; the body is already in
// memory, so the few calls are made here.)
func (w *writer) putMultipart(ctx context.Context, o object) error {
	bucket, key := aws.String(w.cfg.BucketName), aws.String(o.key)
	in := &awss3.CreateMultipartUploadInput{Bucket: bucket, Key: key, ContentType: aws.String("application/x-ndjson")}
	if w.encoding != "" {
		in.ContentEncoding = aws.String(w.encoding)
	}
	ticket := w.up.begin()
	cr, err := w.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		w.up.created(ticket, "")
		return w.fail(ctx, "multipart upload", o.key, err)
	}
	w.up.created(ticket, aws.ToString(cr.UploadId))
	defer w.up.done(aws.ToString(cr.UploadId))
	size := int(w.cfg.MultipartThreshold)
	n := (len(o.body) + size - 1) / size
	parts := make([]types.CompletedPart, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := range n {
		chunk := o.body[i*size : min((i+1)*size, len(o.body))]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r, err := w.client.UploadPart(ctx, &awss3.UploadPartInput{
				Bucket: bucket, Key: key, UploadId: cr.UploadId,
				PartNumber:    aws.Int32(int32(i + 1)),
				Body:          bytes.NewReader(chunk),
				ContentLength: aws.Int64(int64(len(chunk))),
			})
			if err != nil {
				errs[i] = err
				return
			}
			parts[i] = types.CompletedPart{ETag: r.ETag, PartNumber: aws.Int32(int32(i + 1))}
		})
	}
	wg.Wait()
	err = errors.Join(errs...)
	if err == nil {
		_, err = w.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
			Bucket: bucket, Key: key, UploadId: cr.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		})
	}
	if err != nil {
		// Free the parts; the retry starts a new upload.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, _ = w.client.AbortMultipartUpload(actx, &awss3.AbortMultipartUploadInput{Bucket: bucket, Key: key, UploadId: cr.UploadId})
		return w.fail(ctx, "multipart upload", o.key, err)
	}
	return nil
}

// fail turns an SDK error into an *Error (or ctx's error), and counts it.
func (w *writer) fail(ctx context.Context, op, key string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("s3: %s %q: %w", op, key, ctx.Err())
	}
	e := w.error(op, key, err)
	if w.o.failed != nil {
		w.o.failed(e.cause())
	}
	return e
}

func (w *writer) error(op, key string, err error) *Error {
	e := &Error{Op: op, Bucket: w.cfg.BucketName, Key: key, Endpoint: w.endpoint, Err: err}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		e.Status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		// A server may echo the signed request, which names the access key.
		e.Code, e.Message = ae.ErrorCode(), w.redact(ae.ErrorMessage())
	}
	return e
}

// redact replaces the credentials in s, a text from the server.
func (w *writer) redact(s string) string {
	for _, v := range []string{w.cfg.AccessSecretKey.Reveal(), w.cfg.AccessKeyID} {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, config.Redacted)
		}
	}
	return s
}

// Error is an S3 request that failed. Its text names the operation, the
// bucket, the endpoint, the HTTP status and S3's error code and message;
// never a credential (the access key and secret are masked in the
// message, which a server may have made from the request).
type Error struct {
	Op       string // "put", "multipart upload", "check bucket"
	Bucket   string
	Key      string // "" for the bucket check
	Endpoint string // such as "https://s3.us-east-2.amazonaws.com"
	Status   int    // HTTP status; 0 if there was no response
	Code     string // S3's error code, such as "SlowDown" or "AccessDenied"
	Message  string
	Err      error // the SDK's error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("s3: ")
	if e.Key != "" {
		fmt.Fprintf(&b, "%s %q in ", e.Op, e.Key)
	}
	fmt.Fprintf(&b, "bucket %q at %s: ", e.Bucket, e.Endpoint)
	switch {
	case e.Status == 0:
		// The SDK's text repeats the URL; the network error says it all.
		var oe *net.OpError
		if errors.As(e.Err, &oe) {
			fmt.Fprintf(&b, "cannot connect: %v", oe)
		} else {
			fmt.Fprintf(&b, "cannot connect: %v", e.Err)
		}
		return b.String()
	case e.Status == http.StatusNotFound && (e.Code == "" || e.Code == "NotFound" || e.Code == "NoSuchBucket"):
		b.WriteString("not found")
	case e.Status == http.StatusForbidden:
		b.WriteString("access denied")
	default:
		fmt.Fprintf(&b, "HTTP %d", e.Status)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s", e.Code)
		if e.Message != "" && e.Message != e.Code {
			fmt.Fprintf(&b, ": %s", e.Message)
		}
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the SDK's error.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the request may succeed if tried again: on
// throttling (503 SlowDown, 429), a 5xx, a request timeout, or no
// response at all (a network error).
func (e *Error) Retryable() bool {
	switch {
	case e.Status == 0, e.Status >= 500, e.Status == http.StatusTooManyRequests:
		return true
	}
	switch e.Code {
	case "SlowDown", "RequestTimeout", "Throttling", "ThrottlingException", "RequestTimeTooSkewed",
		"InternalError", "ServiceUnavailable", "ExpiredToken", "TokenRefreshRequired":
		return true
	}
	return false
}

func (e *Error) cause() string {
	switch {
	case e.Status == 0:
		return "s3_network"
	case e.Status == http.StatusServiceUnavailable || e.Status == http.StatusTooManyRequests || e.Code == "SlowDown":
		return "s3_throttled"
	case e.Status >= 500:
		return "s3_5xx"
	}
	return "s3_rejected"
}

var (
	_ sluice.Destination[event.Event] = (*Destination)(nil)
	_ sluice.Runner                   = (*Destination)(nil)
	_ error                           = (*Error)(nil)
)
