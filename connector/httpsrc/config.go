package httpsrc

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/daemon/config"
)

// Config configures a [Source], the "http" source. The name of
// contentType is the kawa daemon's.
type Config struct {
	// Addr is host:port to listen on. Default "127.0.0.1:8088". sluiced
	// logs "running" only once it is bound; one that cannot be (in use,
	// a port below 1024 without CAP_NET_BIND_SERVICE) fails the start,
	// naming sources.<name>.addr and the address.
	Addr string `json:"addr"`
	// Path is the URL path that takes POSTs; other paths get 404.
	// Default "/".
	Path string `json:"path"`
	// Format is how a request body is read: "ndjson" (one JSON value per
	// line), "json" (an array of objects or strings, or a single object),
	// "lines" (one event per line, any text), or "auto" (by the request's
	// Content-Type: application/x-ndjson and text/plain are read as lines,
	// application/json as json; any other type gets 415). Default "auto".
	Format string `json:"format"`
	// ContentType is copied into each event's contentType, for
	// destinations that route by it. Default "" (none).
	ContentType string `json:"contentType"`
	// BearerToken, if set, is required as "Authorization: Bearer <token>".
	// Default none. At most one of BearerToken and BasicAuth may be set.
	BearerToken config.Secret `json:"bearerToken"`
	// BasicAuth, if set, is required as HTTP basic authentication.
	// Default none.
	BasicAuth *BasicAuth `json:"basicAuth"`
	// TLS, if set, makes the listener HTTPS.
	TLS *TLSConfig `json:"tls"`
	// MaxBodyBytes is the largest request body in bytes, both as sent
	// and, for Content-Encoding gzip, after decompression; a larger one
	// gets 413. Default 10485760 (10 MiB).
	MaxBodyBytes int64 `json:"maxBodyBytes"`
	// MaxEvents is the most events in one request; more get 413.
	// Default 10000.
	MaxEvents int `json:"maxEvents"`
	// RequestTimeout is how long a request waits for all its events to be
	// acknowledged downstream before it gets 503 with Retry-After (the
	// events may still be delivered). Default 30s.
	RequestTimeout time.Duration `json:"requestTimeout"`
	// ReadHeaderTimeout is how long a client has to send a request's
	// headers; then the connection is closed. Default 10s.
	ReadHeaderTimeout time.Duration `json:"readHeaderTimeout"`
	// ReadTimeout is how long a client has to send a whole request,
	// headers and body; a body not complete by then gets 408. Default 60s;
	// at least readHeaderTimeout.
	ReadTimeout time.Duration `json:"readTimeout"`
	// IdleTimeout closes a keep-alive connection that sends no new
	// request for this long. Default 120s.
	IdleTimeout time.Duration `json:"idleTimeout"`
	// MaxConcurrentRequests is the most requests handled at once; one
	// more gets 503 with Retry-After. A request counts from the moment 64
	// KiB of its body, or all of it, has arrived until it is answered, so
	// slow clients still trickling a body hold no slot (readTimeout bounds
	// them). Bodies past 64 KiB take at most about twice
	// maxConcurrentRequests × maxBodyBytes of memory (a buffer doubles as
	// it grows; 5 GiB with the defaults if 256 clients send 10 MiB bodies
	// at once): lower either to bound it. Default 256.
	MaxConcurrentRequests int `json:"maxConcurrentRequests"`
	// MaxConnections is the most connections open at once, each a file
	// descriptor. A new connection beyond it takes the place of the one
	// that has waited longest for a request (idle keep-alive, or nothing
	// sent yet: counted as errors{cause="evicted"}); if every connection
	// has a request in progress, the new one is closed at once (counted as
	// "too_many_connections"). Default 1024.
	MaxConnections int `json:"maxConnections"`
	// MaxHeaderBytes is the largest request header block; a larger one
	// gets 431 and the connection is closed (net/http's own reply: not
	// counted, and it allows 4 KiB more). Default 1048576 (1 MiB).
	MaxHeaderBytes int `json:"maxHeaderBytes"`
}

// BasicAuth is the user name and password a client must send.
type BasicAuth struct {
	// Username is the user name. Required.
	Username string `json:"username" sluice:"required"`
	// Password is the password. Default "".
	Password config.Secret `json:"password"`
}

// TLSConfig holds the files of a TLS listener.
type TLSConfig struct {
	// CertFile is the server certificate (PEM). Required.
	CertFile string `json:"certFile" sluice:"required"`
	// KeyFile is its private key (PEM). Required.
	KeyFile string `json:"keyFile" sluice:"required"`
	// ClientCAFile, if set, requires clients to present a certificate
	// signed by one of these CAs (PEM). Default "".
	ClientCAFile string `json:"clientCAFile"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Addr: "127.0.0.1:8088", Path: "/", Format: "auto",
		MaxBodyBytes: 10 << 20, MaxEvents: 10000, RequestTimeout: 30 * time.Second,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second,
		MaxConcurrentRequests: 256, MaxConnections: 1024, MaxHeaderBytes: 1 << 20}
}

// Validate checks the fields with a fixed set of values or a range.
func (c *Config) Validate() error {
	var errs []error
	field := func(path, msg string) { errs = append(errs, &config.FieldError{Path: path, Msg: msg}) }
	if c.Addr == "" {
		field("addr", "required")
	}
	if !strings.HasPrefix(c.Path, "/") {
		field("path", fmt.Sprintf("want a path starting with \"/\", got %q", c.Path))
	}
	if !slices.Contains([]string{"auto", "ndjson", "json", "lines"}, c.Format) {
		field("format", fmt.Sprintf("want auto, ndjson, json or lines, got %q", c.Format))
	}
	if c.BearerToken != "" && c.BasicAuth != nil {
		field("basicAuth", "set bearerToken or basicAuth, not both")
	}
	if c.MaxBodyBytes < 1 {
		field("maxBodyBytes", fmt.Sprintf("want at least 1, got %d", c.MaxBodyBytes))
	}
	if c.MaxEvents < 1 {
		field("maxEvents", fmt.Sprintf("want at least 1, got %d", c.MaxEvents))
	}
	for _, d := range []struct {
		path string
		v    time.Duration
	}{{"requestTimeout", c.RequestTimeout}, {"readHeaderTimeout", c.ReadHeaderTimeout}, {"readTimeout", c.ReadTimeout}, {"idleTimeout", c.IdleTimeout}} {
		if d.v <= 0 {
			field(d.path, fmt.Sprintf("want more than 0, got %v", d.v))
		}
	}
	if c.ReadTimeout > 0 && c.ReadTimeout < c.ReadHeaderTimeout {
		field("readTimeout", fmt.Sprintf("want at least readHeaderTimeout (%v), got %v", c.ReadHeaderTimeout, c.ReadTimeout))
	}
	for _, n := range []struct {
		path string
		v    int
	}{{"maxConcurrentRequests", c.MaxConcurrentRequests}, {"maxConnections", c.MaxConnections}, {"maxHeaderBytes", c.MaxHeaderBytes}} {
		if n.v < 1 {
			field(n.path, fmt.Sprintf("want at least 1, got %d", n.v))
		}
	}
	return errors.Join(errs...)
}
