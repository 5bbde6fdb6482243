package webhook

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
)

// Config configures the "http" destination, made by [New].
type Config struct {
	// URL receives the POSTs: http:// or https://. It is a secret, since
	// webhook URLs often carry a token; errors and logs show only its
	// scheme and host. Required.
	URL config.Secret `json:"url" sluice:"required"`
	// Format is "ndjson" (one JSON object per event and line,
	// Content-Type application/x-ndjson), "array" (one JSON array of
	// events, Content-Type application/json) or "raw" (each event's
	// original bytes and a newline, as received: to forward lines
	// unchanged; Content-Type text/plain). Default "ndjson".
	Format string `json:"format"`
	// JSONRaw says which events keep their original bytes ("raw") in
	// formats ndjson and array: "always" (default) or "unparsed" (only
	// those whose fields were not parsed from them; a parsed syslog line
	// is then about half as long). Format raw, and the runreveal
	// destination, send the original bytes whatever it says.
	JSONRaw string `json:"jsonRaw"`
	// Compression is "none" or "gzip" (the body is gzipped and sent with
	// Content-Encoding: gzip). Default "none".
	Compression string `json:"compression"`
	// Headers are added to every request, such as {"X-Api-Key": "$KEY"}.
	// Values are secrets. A name must be an HTTP token and a value may not
	// hold a newline or another control character but tab. Default none.
	Headers map[string]config.Secret `json:"headers"`
	// BearerToken, if set, is sent as "Authorization: Bearer <token>".
	// Default none.
	BearerToken config.Secret `json:"bearerToken"`
	// BasicAuth, if set, is sent as HTTP basic authentication. Default
	// none. At most one of BearerToken and BasicAuth may be set.
	BasicAuth *BasicAuth `json:"basicAuth"`
	// Timeout bounds one POST, from connecting to reading the response;
	// a POST that takes longer is retried. Default 30s.
	Timeout time.Duration `json:"timeout"`
	// TLS configures https connections. Default: the system's roots, no
	// client certificate.
	TLS TLSConfig `json:"tls"`
	// Batch sets when batches are cut and how failed POSTs are retried
	// (batch.retry; maxAttempts 0, the default, retries 429, 5xx and
	// network errors without limit). Defaults: count 1000, bytes 1 MiB
	// (each event counts as its raw size plus 256), age 1s,
	// parallelism 2, stopTimeout 5s.
	Batch batch.Config `json:"batch"`
}

// BasicAuth is a user name and password for HTTP basic authentication.
type BasicAuth struct {
	// Username is the user name. Required.
	Username string `json:"username" sluice:"required"`
	// Password is the password. Default "".
	Password config.Secret `json:"password"`
}

// TLSConfig configures the client side of TLS.
type TLSConfig struct {
	// CAFile is a PEM file of certificates that replace the system's
	// roots for verifying the server. Default "": the system's roots.
	CAFile string `json:"caFile"`
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// mutual TLS; set both or neither. Default "": no client certificate.
	CertFile string `json:"certFile"`
	// KeyFile: see CertFile.
	KeyFile string `json:"keyFile"`
	// InsecureSkipVerify turns off verification of the server's
	// certificate. For tests only. Default false.
	InsecureSkipVerify bool `json:"insecureSkipVerify"`
}

// DefaultConfig returns a Config with every default set and no URL.
func DefaultConfig() Config {
	return Config{Format: "ndjson", JSONRaw: "always", Compression: "none", Timeout: 30 * time.Second,
		Batch: batch.Config{Count: 1000, Bytes: 1 << 20, Age: time.Second, Parallelism: 2}}
}

// Validate checks the fields that have a fixed set of values. It never
// shows the URL in an error.
func (c *Config) Validate() error {
	var errs []error
	if c.URL != "" {
		if err := checkURL(c.URL); err != nil {
			errs = append(errs, &config.FieldError{Path: "url", Msg: err.Error()})
		}
	}
	if c.Format != "ndjson" && c.Format != "array" && c.Format != "raw" {
		errs = append(errs, &config.FieldError{Path: "format", Msg: fmt.Sprintf("want ndjson, array or raw, got %q", c.Format)})
	}
	if _, err := event.JSONRaw(c.JSONRaw); err != nil {
		errs = append(errs, &config.FieldError{Path: "jsonRaw", Msg: err.Error()})
	}
	if c.Compression != "none" && c.Compression != "gzip" {
		errs = append(errs, &config.FieldError{Path: "compression", Msg: fmt.Sprintf("want none or gzip, got %q", c.Compression)})
	}
	if c.Timeout < 0 {
		errs = append(errs, config.Want("timeout", "0 or more", c.Timeout))
	}
	if c.BearerToken != "" && c.BasicAuth != nil {
		errs = append(errs, &config.FieldError{Path: "basicAuth", Msg: "set bearerToken or basicAuth, not both"})
	}
	errs = append(errs, checkHeaders(c.Headers, c.BearerToken)...)
	if err := config.Pair("tls.certFile", "tls.keyFile", c.TLS.CertFile != "", c.TLS.KeyFile != ""); err != nil {
		errs = append(errs, err)
	}
	if err := c.Batch.Validate(); err != nil {
		errs = append(errs, config.Nest("batch", err)...)
	}
	return errors.Join(errs...)
}

// RunRevealConfig configures the "runreveal" destination, made by
// [NewRunReveal]. Its fields are those of kawa's reveald, so a reveald
// config loads unchanged:
//
//	{"type": "runreveal", "webhookURL": "https://api.runreveal.com/...", "batchSize": 100, "flushFreq": "15s"}
type RunRevealConfig struct {
	// WebhookURL is the RunReveal source's webhook URL, a secret.
	// Required.
	WebhookURL config.Secret `json:"webhookURL" sluice:"required"`
	// BatchSize is the number of events per POST. Default 100.
	BatchSize int `json:"batchSize"`
	// FlushFreq is how long after its first event a batch that is not full
	// is posted anyway. Default 15s.
	FlushFreq time.Duration `json:"flushFreq"`
}

// DefaultRunRevealConfig returns a RunRevealConfig with every default set
// and no URL.
func DefaultRunRevealConfig() RunRevealConfig {
	return RunRevealConfig{BatchSize: 100, FlushFreq: 15 * time.Second}
}

// Validate checks the URL and that the numbers are not negative.
func (c *RunRevealConfig) Validate() error {
	var errs []error
	if c.WebhookURL != "" {
		if err := checkURL(c.WebhookURL); err != nil {
			errs = append(errs, &config.FieldError{Path: "webhookURL", Msg: err.Error()})
		}
	}
	if c.BatchSize < 0 {
		errs = append(errs, config.Want("batchSize", "0 or more", c.BatchSize))
	}
	if c.FlushFreq < 0 {
		errs = append(errs, config.Want("flushFreq", "0 or more", c.FlushFreq))
	}
	return errors.Join(errs...)
}

// httpConfig is the http Config that a RunRevealConfig stands for.
func (c RunRevealConfig) httpConfig() Config {
	h := DefaultConfig()
	h.URL = c.WebhookURL
	h.Format = "array"
	h.Batch = batch.Config{Count: c.BatchSize, Age: c.FlushFreq, Parallelism: 2}
	return h
}

// checkHeaders checks that every header name is an HTTP token and that
// no value (nor the bearer token, sent as a header) holds a newline or
// another control character, which would split the request or make every
// POST fail. Its errors name the field, never the value, a secret.
func checkHeaders(h map[string]config.Secret, bearer config.Secret) []error {
	var errs []error
	names := slices.Sorted(maps.Keys(h))
	for _, name := range names {
		path := "headers." + name
		if !validHeaderName(name) {
			errs = append(errs, &config.FieldError{Path: path, Msg: fmt.Sprintf("%q is not a valid header name", name)})
			continue
		}
		if !validHeaderValue(h[name].Reveal()) {
			errs = append(errs, &config.FieldError{Path: path, Msg: badHeaderValue})
		}
	}
	if !validHeaderValue(bearer.Reveal()) {
		errs = append(errs, &config.FieldError{Path: "bearerToken", Msg: badHeaderValue})
	}
	return errs
}

const badHeaderValue = "the value holds a newline or another control character, which a header value may not " +
	"(a value read from a file or an environment variable often ends with a newline)"

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether v holds no control character but
// horizontal tab (RFC 9110 field-value): no CR, LF or NUL.
func validHeaderValue(v string) bool {
	for _, c := range []byte(v) {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// checkURL reports whether s is an absolute http(s) URL; its error never
// holds s, which may carry a token.
func checkURL(s config.Secret) error {
	u, err := url.Parse(s.Reveal())
	if err != nil {
		return errors.New("not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("want an http:// or https:// URL")
	}
	if u.Host == "" {
		return errors.New("URL has no host")
	}
	return nil
}

// endpoint returns scheme://host of s, for errors and logs.
func endpoint(s config.Secret) string {
	u, err := url.Parse(s.Reveal())
	if err != nil {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host
}
