package s3

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/defaults"
	"github.com/sluicehq/sluice/retry"
)

// Defaults for the zero fields of a [Config].
const (
	DefaultBatchSize          = 10000
	DefaultBatchBytes         = 32 << 20
	DefaultFlushFrequency     = 30 * time.Second
	DefaultParallelism        = 4
	DefaultCompression        = "gzip"
	DefaultJSONRaw            = "always"
	DefaultKeyTemplate        = "{prefix}{yyyy}/{mm}/{dd}/{hh}/{source}-{first}-{hash}.ndjson{ext}"
	DefaultMultipartThreshold = 16 << 20
	// MinPartSize is S3's smallest part of a multipart upload (but the last).
	MinPartSize = 5 << 20
	// MinAbortStaleUploadsAfter is the least Config.AbortStaleUploadsAfter.
	MinAbortStaleUploadsAfter = time.Hour
)

// Config configures a [Destination]. The first six fields have the names of
// the kawa daemon's "s3" destination, so its configs load unchanged.
type Config struct {
	// BucketName is the bucket objects are written to. Required.
	BucketName string `json:"bucketName" sluice:"required"`
	// BucketRegion is the bucket's region. Default: the region of the
	// standard AWS configuration (AWS_REGION, ~/.aws/config), else
	// "us-east-1".
	BucketRegion string `json:"bucketRegion"`
	// PathPrefix is put before every key (as {prefix} of KeyTemplate,
	// with a "/" added when it has none).
	PathPrefix string `json:"pathPrefix"`
	// CustomEndpoint is the URL of an S3-compatible service, such as
	// Cloudflare R2 or MinIO; when set, requests use path-style
	// addressing (https://host/bucket/key).
	CustomEndpoint string `json:"customEndpoint"`
	// AccessKeyID and AccessSecretKey are static credentials. When they
	// are not given, the standard AWS credential chain is used
	// (environment, shared files, web identity, ECS/EC2 roles).
	AccessKeyID string `json:"accessKeyID"`
	// AccessSecretKey is the secret of AccessKeyID; it never appears in
	// logs or errors.
	AccessSecretKey config.Secret `json:"accessSecretKey"`

	// BatchSize is the number of events at which a batch is written.
	// Default 10000.
	BatchSize int `json:"batchSize"`
	// BatchBytes is the size (uncompressed, approximately) at which a
	// batch is written. Default 32 MiB.
	BatchBytes int `json:"batchBytes"`
	// FlushFrequency is how long after its first event a batch that is
	// not full is written anyway. Default 30s: objects of a quiet source
	// are not too small, and events wait at most that long to be acked.
	// (kawa flushed every 5s, which makes many small objects.)
	FlushFrequency time.Duration `json:"flushFrequency"`
	// Parallelism is the number of batches being uploaded at once.
	// Default 4.
	Parallelism int `json:"parallelism"`
	// Compression is "gzip" (default), "zstd" or "none".
	Compression string `json:"compression"`
	// JSONRaw says which events keep their original bytes ("raw") in
	// the objects' NDJSON: "always" (default) or "unparsed" (only those
	// whose fields were not parsed from them; a parsed syslog line is
	// then about half as long).
	JSONRaw string `json:"jsonRaw"`
	// KeyTemplate makes an object's key. Placeholders:
	//   {prefix}                 PathPrefix, with a trailing "/" when not empty
	//   {yyyy} {mm} {dd} {hh}    the time of the object's first event, UTC
	//   {source}                 the events' source name (event.Source)
	//   {first}                  the first event's time, 20060102T150405Z
	//   {hash}                   32 hex digits of the SHA-256 of the uncompressed content
	//   {ext}                    ".gz", ".zst" or ""
	// It must contain {hash}, which makes a retried upload overwrite its
	// first attempt rather than add a copy. Default
	// "{prefix}{yyyy}/{mm}/{dd}/{hh}/{source}-{first}-{hash}.ndjson{ext}".
	KeyTemplate string `json:"keyTemplate"`
	// MultipartThreshold is the object size from which an object is
	// uploaded in parts, of this size (at least 5 MiB, S3's minimum).
	// Default 16 MiB.
	MultipartThreshold int64 `json:"multipartThreshold"`
	// Retry is the back-off for uploads that fail with a transient error
	// (throttling, 5xx, network). Default: 100ms doubling up to 30s,
	// without limit.
	Retry retry.Policy `json:"retry"`
	// AbortStaleUploadsAfter, when set, aborts the incomplete multipart
	// uploads that a crash left (their parts are billed until then): at
	// start and then every hour, those initiated longer ago than this
	// (by the store's clock against this host's) whose keys this
	// destination could have made (pathPrefix and the shape of
	// keyTemplate). It never aborts an upload it is running. It needs
	// s3:ListBucketMultipartUploads and s3:AbortMultipartUpload; without
	// them it logs one warning and uploads on. At least 1h, longer than any
	// upload of another sluiced writing the same keys may take. Default 0:
	// off (a bucket lifecycle rule may do it instead).
	AbortStaleUploadsAfter time.Duration `json:"abortStaleUploadsAfter"`
}

// DefaultConfig returns a Config for bucket with every default set.
func DefaultConfig(bucket string) Config {
	return Config{
		BucketName:         bucket,
		BatchSize:          DefaultBatchSize,
		BatchBytes:         DefaultBatchBytes,
		FlushFrequency:     DefaultFlushFrequency,
		Parallelism:        DefaultParallelism,
		Compression:        DefaultCompression,
		JSONRaw:            DefaultJSONRaw,
		KeyTemplate:        DefaultKeyTemplate,
		MultipartThreshold: DefaultMultipartThreshold,
	}
}

// withDefaults returns c with its zero fields set to the defaults.
func (c Config) withDefaults() Config {
	defaults.Fill(&c, DefaultConfig(c.BucketName))
	return c
}

var placeholders = []string{"{prefix}", "{yyyy}", "{mm}", "{dd}", "{hh}", "{source}", "{first}", "{hash}", "{ext}"}

// Validate reports fields that are out of range. Zero fields are valid:
// they take their defaults.
func (c *Config) Validate() error {
	var errs []error
	switch c.Compression {
	case "", "gzip", "zstd", "none":
	default:
		errs = append(errs, config.Want("compression", "gzip, zstd or none", c.Compression))
	}
	if _, err := event.JSONRaw(c.JSONRaw); err != nil {
		errs = append(errs, &config.FieldError{Path: "jsonRaw", Msg: err.Error()})
	}
	for _, f := range []struct {
		path string
		v    any
		neg  bool
	}{{"batchSize", c.BatchSize, c.BatchSize < 0}, {"batchBytes", c.BatchBytes, c.BatchBytes < 0},
		{"flushFrequency", c.FlushFrequency, c.FlushFrequency < 0}, {"parallelism", c.Parallelism, c.Parallelism < 0}} {
		if f.neg {
			errs = append(errs, config.Want(f.path, "0 or more", f.v))
		}
	}
	if c.MultipartThreshold != 0 && c.MultipartThreshold < MinPartSize {
		errs = append(errs, config.Want("multipartThreshold", fmt.Sprintf("at least %d (5 MiB)", MinPartSize), c.MultipartThreshold))
	}
	if c.KeyTemplate != "" {
		if !strings.Contains(c.KeyTemplate, "{hash}") {
			errs = append(errs, config.Want("keyTemplate", "a template holding {hash}", c.KeyTemplate))
		}
		rest := c.KeyTemplate
		for _, p := range placeholders {
			rest = strings.ReplaceAll(rest, p, "")
		}
		if i := strings.IndexByte(rest, '{'); i >= 0 {
			errs = append(errs, config.Want("keyTemplate", "placeholders among "+strings.Join(placeholders, " "), c.KeyTemplate))
		}
	}
	if c.CustomEndpoint != "" {
		u, err := url.Parse(c.CustomEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, config.Want("customEndpoint", "an http:// or https:// URL", c.CustomEndpoint))
		}
	}
	if err := config.Pair("accessKeyID", "accessSecretKey", c.AccessKeyID != "", c.AccessSecretKey != ""); err != nil {
		errs = append(errs, err)
	}
	if c.AbortStaleUploadsAfter != 0 && c.AbortStaleUploadsAfter < MinAbortStaleUploadsAfter {
		errs = append(errs, config.Want("abortStaleUploadsAfter", "0 (off) or at least 1h", c.AbortStaleUploadsAfter))
	}
	if c.Retry.Multiplier != 0 && c.Retry.Multiplier < 1 {
		errs = append(errs, config.Want("retry.multiplier", "at least 1", c.Retry.Multiplier))
	}
	return errors.Join(errs...)
}
