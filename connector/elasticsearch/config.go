package elasticsearch

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/internal/store"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
)

// Config configures the "elasticsearch" destination, made by [New]. It
// works with Elasticsearch 7 and 8 and with OpenSearch.
type Config struct {
	// URL is the cluster's base URL, such as "https://es.example.com:9200"
	// (a path prefix is kept: "https://host/es" posts to
	// "https://host/es/_bulk"; a URL already holding /_bulk is refused). A secret, since it may carry credentials;
	// errors and logs show only its scheme and host. Required.
	URL config.Secret `json:"url" sluice:"required"`
	// Index is the index (or data stream) each event goes to, with the
	// event's time (UTC) put in for %Y (year), %m (month), %d (day) and %H
	// (hour), such as "logs-%Y.%m.%d". It must be a valid index name:
	// lower case, at most 200 bytes, none of \ / * ? " < > | , # : space
	// or a control character, not starting with -, _ or +. Default
	// "sluice-%Y.%m.%d".
	Index string `json:"index"`
	// OpType is the bulk action: "index" (a document with the same _id is
	// replaced) or "create" (required by data streams; a document whose
	// _id exists is rejected with 409, which, with id "content", means an
	// earlier try stored it and counts as success). Default "index".
	OpType string `json:"opType"`
	// ID says how documents get their _id: "auto" (Elasticsearch makes one;
	// a retried item may be stored twice) or "content" (a hash of the
	// event's source, host, file path and offset, time and raw bytes, so
	// that a retry, or a redelivery after a restart, writes the same
	// document again instead of a second one; two events equal in all of
	// these are stored once). Default "auto".
	ID string `json:"id"`
	// JSONRaw says which documents keep the event's original bytes
	// ("raw"): "always" (default) or "unparsed" (only events whose fields
	// were not parsed from them; a parsed syslog line then carries its
	// text once, in syslog.message, and its document is a third shorter,
	// which is a third less to compress and to store). The _id of id
	// "content" hashes the raw bytes either way.
	JSONRaw string `json:"jsonRaw"`
	// Username and Password are sent as HTTP basic authentication. Default
	// none. At most one of Username and APIKey may be set.
	Username string `json:"username"`
	// Password: see Username. Default "".
	Password config.Secret `json:"password"`
	// APIKey is sent as "Authorization: ApiKey <apiKey>": the base64
	// "encoded" value that Elasticsearch returns when the key is created.
	// Default none.
	APIKey config.Secret `json:"apiKey"`
	// Compression is "gzip" (each _bulk body is gzipped and sent with
	// Content-Encoding: gzip, which Elasticsearch 5.0 and later and every
	// OpenSearch take; the limit of batch.bytes still counts the
	// uncompressed size, as http.max_content_length does) or "none"
	// (for a proxy in between, or an Amazon Elasticsearch Service domain
	// of 6.x that has http_compression off). Default "gzip".
	Compression string `json:"compression"`
	// Timeout bounds one bulk request, from connecting to reading the
	// response; a request that takes longer is retried. Default 60s.
	Timeout time.Duration `json:"timeout"`
	// TLS configures https connections. Default: the system's roots, no
	// client certificate.
	TLS TLSConfig `json:"tls"`
	// Batch sets when bulk requests are cut and how failed items are
	// retried (batch.retry; maxAttempts 0, the default, retries without
	// limit). Bytes counts each event as its raw size plus 256 and must
	// stay under the cluster's http.max_content_length (100mb by default).
	// Defaults: count 1000, bytes 5 MiB, age 1s, parallelism 2,
	// stopTimeout 5s.
	Batch batch.Config `json:"batch"`
}

// TLSConfig configures the client side of TLS.
type TLSConfig = store.TLS

// maxContentLength is Elasticsearch's default http.max_content_length.
const maxContentLength = 100 << 20

// DefaultConfig returns a Config with every default set and no URL.
func DefaultConfig() Config {
	return Config{Index: "sluice-%Y.%m.%d", OpType: "index", ID: "auto", JSONRaw: "always", Compression: "gzip", Timeout: 60 * time.Second,
		Batch: batch.Config{Count: 1000, Bytes: 5 << 20, Age: time.Second, Parallelism: 2}}
}

// Validate checks the fields. It never shows a secret in an error.
func (c *Config) Validate() error {
	var errs []error
	if c.URL != "" {
		if err := cmp.Or(store.CheckURL(c.URL.Reveal()), store.CheckBase(c.URL.Reveal(), "/_bulk")); err != nil {
			errs = append(errs, &config.FieldError{Path: "url", Msg: err.Error()})
		}
	}
	if _, err := parseIndex(c.Index); err != nil {
		errs = append(errs, &config.FieldError{Path: "index", Msg: err.Error()})
	}
	if c.OpType != "index" && c.OpType != "create" {
		errs = append(errs, &config.FieldError{Path: "opType", Msg: fmt.Sprintf("want index or create, got %q", c.OpType)})
	}
	if c.ID != "auto" && c.ID != "content" {
		errs = append(errs, &config.FieldError{Path: "id", Msg: fmt.Sprintf("want auto or content, got %q", c.ID)})
	}
	if _, err := event.JSONRaw(c.JSONRaw); err != nil {
		errs = append(errs, &config.FieldError{Path: "jsonRaw", Msg: err.Error()})
	}
	if c.Compression != "gzip" && c.Compression != "none" {
		errs = append(errs, &config.FieldError{Path: "compression", Msg: fmt.Sprintf("want gzip or none, got %q", c.Compression)})
	}
	if c.Username != "" && c.APIKey != "" {
		errs = append(errs, &config.FieldError{Path: "apiKey", Msg: "set username/password or apiKey, not both"})
	}
	if c.Password != "" && c.Username == "" {
		errs = append(errs, &config.FieldError{Path: "username", Msg: "required with password"})
	}
	if c.Timeout < 0 {
		errs = append(errs, config.Want("timeout", "0 or more", c.Timeout))
	}
	if err := c.TLS.Check(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Batch.Validate(); err != nil {
		errs = append(errs, config.Nest("batch", err)...)
	} else if c.Batch.Bytes > maxContentLength/2 {
		errs = append(errs, &config.FieldError{Path: "batch.bytes", Msg: fmt.Sprintf("at most %d (half of Elasticsearch's default http.max_content_length)", maxContentLength/2)})
	}
	return errors.Join(errs...)
}

// index is a parsed index pattern: literal parts and time directives.
type index []indexPart

type indexPart struct {
	lit string
	dir byte // 'Y', 'm', 'd', 'H', or 0 for lit
}

// parseIndex parses an index pattern and checks that what it expands to
// is a valid index name.
func parseIndex(p string) (index, error) {
	if p == "" {
		return nil, errors.New("required")
	}
	if !utf8.ValidString(p) {
		return nil, errors.New("not valid UTF-8")
	}
	if len(p) > 200 {
		return nil, errors.New("longer than 200 bytes (Elasticsearch allows 255 per name)")
	}
	var out index
	var lit strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			if strings.IndexByte(`\/*?"<>|, #:`, c) >= 0 {
				return nil, fmt.Errorf("%q may not be in an index name", string(c))
			}
			if c < 0x20 || c == 0x7f {
				return nil, errors.New("a control character may not be in an index name")
			}
			lit.WriteByte(c)
			continue
		}
		if i+1 == len(p) {
			return nil, errors.New(`a "%" at the end: want %Y, %m, %d or %H`)
		}
		i++
		switch d := p[i]; d {
		case '%':
			return nil, errors.New(`"%" may not be in an index name`)
		case 'Y', 'm', 'd', 'H':
			if lit.Len() > 0 {
				out = append(out, indexPart{lit: lit.String()})
				lit.Reset()
			}
			out = append(out, indexPart{dir: d})
		default:
			return nil, fmt.Errorf("unknown directive %%%c: want %%Y, %%m, %%d or %%H", d)
		}
	}
	if lit.Len() > 0 {
		out = append(out, indexPart{lit: lit.String()})
	}
	for _, x := range out {
		if strings.ToLower(x.lit) != x.lit {
			return nil, errors.New("an index name must be lower case")
		}
	}
	if out[0].dir == 0 && strings.IndexByte("-_+", out[0].lit[0]) >= 0 {
		return nil, errors.New("an index name may not start with -, _ or +")
	}
	if p == "." || p == ".." {
		return nil, errors.New(`an index name may not be "." or ".."`)
	}
	return out, nil
}

// append appends the index name for t (UTC) to dst.
func (x index) append(dst []byte, t time.Time) []byte {
	t = t.UTC()
	for _, p := range x {
		switch p.dir {
		case 0:
			dst = append(dst, p.lit...)
		case 'Y':
			dst = appendInt(dst, t.Year(), 4)
		case 'm':
			dst = appendInt(dst, int(t.Month()), 2)
		case 'd':
			dst = appendInt(dst, t.Day(), 2)
		case 'H':
			dst = appendInt(dst, t.Hour(), 2)
		}
	}
	return dst
}

func appendInt(dst []byte, v, width int) []byte {
	var b [8]byte
	i := len(b)
	for v > 0 || width > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		width--
	}
	return append(dst, b[i:]...)
}
