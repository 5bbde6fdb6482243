package otlp

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/daemon/config"
)

// SourceConfig configures a [Source], the "otlp" source.
type SourceConfig struct {
	// GRPCAddr is host:port for OTLP/gRPC (LogsService/Export). Default
	// "" : no gRPC listener. At least one of grpcAddr and httpAddr is
	// required.
	GRPCAddr string `json:"grpcAddr"`
	// HTTPAddr is host:port for OTLP/HTTP (POST /v1/logs, protobuf or
	// JSON). Default "": no HTTP listener. sluiced logs "running" only
	// once both addresses are bound; one that cannot be (in use, a port
	// below 1024 without CAP_NET_BIND_SERVICE) fails the start, naming
	// its field (sources.<name>.grpcAddr or .httpAddr) and the address.
	HTTPAddr string `json:"httpAddr"`
	// TLS, if set, makes both listeners TLS; plaintext otherwise.
	TLS *TLSConfig `json:"tls"`
	// MaxRequestBytes is the largest request, after decompression, on
	// both listeners (it raises gRPC's 4 MiB default receive limit); a
	// larger one gets RESOURCE_EXHAUSTED / 413. Default 16777216 (16 MiB).
	MaxRequestBytes int `json:"maxRequestBytes"`
	// MaxConcurrentRequests is the most requests handled at once over
	// both listeners; one more gets UNAVAILABLE / 429 with a retry delay.
	// An HTTP request counts once 64 KiB of its body, or all of it, has
	// arrived, so slow clients still sending a body hold none (readTimeout
	// bounds them). Default 64.
	MaxConcurrentRequests int `json:"maxConcurrentRequests"`
	// MaxRecordBytes is the largest record, as its event's raw JSON; a
	// larger record is rejected (counted in the reply's partial success)
	// and the rest of the request is delivered. Default 1048576 (1 MiB).
	MaxRecordBytes int `json:"maxRecordBytes"`
	// AckTimeout is how long a request waits for all its records to be
	// acknowledged downstream; past it the client gets UNAVAILABLE / 503
	// with a retry delay and sends again (the records may still be
	// delivered: at least once). Keep it below the clients' own timeout
	// (the OTel SDK's default is 10s, the Collector's exporter 5s).
	// Default 4s.
	AckTimeout time.Duration `json:"ackTimeout"`
	// RetryAfter is the retry delay a refusal asks for (gRPC RetryInfo,
	// HTTP Retry-After, rounded up to whole seconds). Default 1s.
	RetryAfter time.Duration `json:"retryAfter"`
	// QueueSize is how many records wait between the listeners and the
	// pipeline. A request whose records do not fit within a second gets
	// UNAVAILABLE / 429. Default 8192.
	QueueSize int `json:"queueSize"`
	// ReadHeaderTimeout is how long an HTTP client has to send a
	// request's headers, and a gRPC client to finish its TLS handshake and
	// HTTP/2 preface; then the connection is closed. Default 10s.
	ReadHeaderTimeout time.Duration `json:"readHeaderTimeout"`
	// ReadTimeout is how long an HTTP client has to send a whole request,
	// headers and body; a body not complete by then gets 408. It does not
	// bound the wait for acks (ackTimeout does). Default 60s; at least
	// readHeaderTimeout.
	ReadTimeout time.Duration `json:"readTimeout"`
	// IdleTimeout closes an HTTP keep-alive connection that sends no new
	// request for this long, and a gRPC connection with no call for this
	// long (after a GOAWAY: clients reconnect). Default 120s.
	IdleTimeout time.Duration `json:"idleTimeout"`
	// MaxConnections is the most connections open at once on each
	// listener, each a file descriptor. On the HTTP listener a new
	// connection beyond it takes the place of the one that has waited
	// longest for a request (counted as errors{cause="evicted"}); if all
	// have a request in progress, and always on the gRPC listener (whose
	// connections are long-lived), the new one is closed at once (counted
	// as "too_many_connections"). Default 1024.
	MaxConnections int `json:"maxConnections"`
	// MaxHeaderBytes is the largest header block of a request: over HTTP a
	// larger one gets 431 (net/http's own reply, not counted; it allows 4
	// KiB more), over gRPC the call is refused with RESOURCE_EXHAUSTED or
	// INTERNAL, as the client's library reports it. Default 1048576 (1 MiB).
	MaxHeaderBytes int `json:"maxHeaderBytes"`
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

// DefaultSourceConfig returns the source's defaults.
func DefaultSourceConfig() SourceConfig {
	return SourceConfig{MaxRequestBytes: 16 << 20, MaxConcurrentRequests: 64, MaxRecordBytes: 1 << 20,
		AckTimeout: 4 * time.Second, RetryAfter: time.Second, QueueSize: 8192,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second,
		MaxConnections: 1024, MaxHeaderBytes: 1 << 20}
}

// Validate reports fields out of range, with their paths.
func (c *SourceConfig) Validate() error {
	var errs []error
	field := func(path, msg string) { errs = append(errs, &config.FieldError{Path: path, Msg: msg}) }
	if c.GRPCAddr == "" && c.HTTPAddr == "" {
		field("grpcAddr", "set grpcAddr, httpAddr or both")
	}
	for _, a := range []struct{ path, v string }{{"grpcAddr", c.GRPCAddr}, {"httpAddr", c.HTTPAddr}} {
		if a.v == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			field(a.path, fmt.Sprintf("want host:port, got %q", a.v))
		}
	}
	if c.GRPCAddr != "" && c.GRPCAddr == c.HTTPAddr && !strings.HasSuffix(c.GRPCAddr, ":0") {
		field("httpAddr", fmt.Sprintf("want an address other than grpcAddr, got %q", c.HTTPAddr))
	}
	for _, n := range []struct {
		path string
		v    int
	}{{"maxRequestBytes", c.MaxRequestBytes}, {"maxConcurrentRequests", c.MaxConcurrentRequests},
		{"maxRecordBytes", c.MaxRecordBytes}, {"queueSize", c.QueueSize},
		{"maxConnections", c.MaxConnections}, {"maxHeaderBytes", c.MaxHeaderBytes}} {
		if n.v < 1 {
			field(n.path, fmt.Sprintf("want at least 1, got %d", n.v))
		}
	}
	for _, d := range []struct {
		path string
		v    time.Duration
	}{{"ackTimeout", c.AckTimeout}, {"retryAfter", c.RetryAfter},
		{"readHeaderTimeout", c.ReadHeaderTimeout}, {"readTimeout", c.ReadTimeout}, {"idleTimeout", c.IdleTimeout}} {
		if d.v <= 0 {
			field(d.path, fmt.Sprintf("want more than 0, got %v", d.v))
		}
	}
	if c.ReadTimeout > 0 && c.ReadTimeout < c.ReadHeaderTimeout {
		field("readTimeout", fmt.Sprintf("want at least readHeaderTimeout (%v), got %v", c.ReadHeaderTimeout, c.ReadTimeout))
	}
	return errors.Join(errs...)
}

// DestinationConfig configures a [Destination], the "otlp" destination.
type DestinationConfig struct {
	// Endpoint is where to send. For protocol grpc: host:port. For http: a
	// base URL (http:// or https://) to which "/v1/logs" is appended, as
	// OTEL_EXPORTER_OTLP_ENDPOINT is; a bare host:port is taken as
	// http://host:port. Required.
	Endpoint string `json:"endpoint" sluice:"required"`
	// Protocol is "grpc" (OTLP/gRPC) or "http" (OTLP/HTTP protobuf).
	// Default "grpc".
	Protocol string `json:"protocol"`
	// Headers are sent with every request (gRPC metadata or HTTP headers),
	// such as an API key. Values are secrets: never logged.
	Headers map[string]config.Secret `json:"headers"`
	// Compression is "gzip" or "none". Default "gzip".
	Compression string `json:"compression"`
	// TLS, if set, makes a grpc destination use TLS with these files
	// (plaintext when unset); for http the URL's scheme decides, and TLS
	// sets the CA and client certificate of https. Default none.
	TLS *ClientTLSConfig `json:"tls"`
	// Timeout bounds one request. Default 10s.
	Timeout time.Duration `json:"timeout"`
	// MaxRequestBytes is the most a request may weigh, encoded: a batch
	// that encodes larger is split. Default 4000000 (under the 4 MiB a
	// gRPC receiver takes by default).
	MaxRequestBytes int `json:"maxRequestBytes"`
	// Batch sets how records are batched and retried. Default count 1000,
	// age 1s, parallelism 2, retries without limit.
	Batch batch.Config `json:"batch"`
}

// ClientTLSConfig holds the files of a TLS client.
type ClientTLSConfig struct {
	// CAFile is the CAs that sign the server's certificate (PEM). Default:
	// the system's.
	CAFile string `json:"caFile"`
	// CertFile is a client certificate (PEM), set with keyFile. Default
	// none.
	CertFile string `json:"certFile"`
	// KeyFile is the client certificate's private key (PEM). Default none.
	KeyFile string `json:"keyFile"`
	// InsecureSkipVerify accepts any server certificate. Default false.
	InsecureSkipVerify bool `json:"insecureSkipVerify"`
}

// DefaultDestinationConfig returns the destination's defaults.
func DefaultDestinationConfig() DestinationConfig {
	return DestinationConfig{Protocol: "grpc", Compression: "gzip", Timeout: 10 * time.Second,
		MaxRequestBytes: 4_000_000, Batch: batch.Config{Count: 1000, Age: time.Second}}
}

// Validate reports fields out of range, with their paths.
func (c *DestinationConfig) Validate() error {
	var errs []error
	field := func(path, msg string) { errs = append(errs, &config.FieldError{Path: path, Msg: msg}) }
	switch c.Protocol {
	case "grpc":
		if _, _, err := net.SplitHostPort(c.Endpoint); err != nil {
			field("endpoint", fmt.Sprintf("for protocol grpc want host:port, got %q", c.Endpoint))
		}
	case "http":
		if _, err := httpURL(c.Endpoint); err != nil {
			field("endpoint", err.Error())
		}
	default:
		field("protocol", fmt.Sprintf("want grpc or http, got %q", c.Protocol))
	}
	if c.Compression != "gzip" && c.Compression != "none" {
		field("compression", fmt.Sprintf("want gzip or none, got %q", c.Compression))
	}
	if c.Timeout <= 0 {
		field("timeout", fmt.Sprintf("want more than 0, got %v", c.Timeout))
	}
	if c.MaxRequestBytes < 1024 {
		field("maxRequestBytes", fmt.Sprintf("want at least 1024, got %d", c.MaxRequestBytes))
	}
	if t := c.TLS; t != nil && (t.CertFile == "") != (t.KeyFile == "") {
		field("tls.keyFile", "set certFile and keyFile together")
	}
	if err := c.Batch.Validate(); err != nil {
		field("batch", err.Error())
	}
	return errors.Join(errs...)
}

// httpURL returns the URL an http destination posts to: endpoint with
// "/v1/logs" appended to its path.
func httpURL(endpoint string) (string, error) {
	if !strings.Contains(endpoint, "://") {
		endpoint = "http://" + endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("for protocol http want a base URL such as https://host:4318, got %q", endpoint)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/logs"
	return u.String(), nil
}
