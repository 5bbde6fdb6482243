package nats

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
)

// SourceConfig configures the "nats" source, made by [NewSource].
type SourceConfig struct {
	// URL is the server's URL, nats://host:4222 (tls://host:4222 for
	// TLS); several, comma-separated, for a cluster. Required.
	URL string `json:"url" sluice:"required"`
	// Stream is the JetStream stream to consume; it must exist. Required.
	Stream string `json:"stream" sluice:"required"`
	// Subject filters the stream's messages, such as "logs.>". Default
	// "": every message of the stream.
	Subject string `json:"subject"`
	// Durable names the durable pull consumer; the server keeps its
	// position (what was acked) across restarts of sluiced. It is created
	// if missing, and its settings updated. Default "": sluiced-NAME, from
	// the source's name in the config.
	Durable string `json:"durable"`
	// AckWait is how long the server waits for an ack or an in-progress
	// report before it sends a message again. sluiced reports every
	// message it holds (from its arrival until the destination acks it)
	// in progress every third of AckWait, so a slow destination causes no
	// redelivery; a copy the server sends anyway (no report reached it in
	// time) of a message sluiced holds or acked lately is dropped, not
	// passed on. AckWait bounds how late a message held by a sluiced that
	// died comes again. Default 30s.
	AckWait time.Duration `json:"ackWait"`
	// MaxAckPending is how many messages the server lets sluiced hold
	// unacked; at the limit it sends no more until acks come (back-pressure).
	// Default 1000.
	MaxAckPending int `json:"maxAckPending"`
	// FetchBatch is how many messages one pull asks for; it must not be
	// more than MaxAckPending, or a pull would wait for messages the
	// server may not send. Default 256.
	FetchBatch int `json:"fetchBatch"`
	// MaxMessageBytes is the largest payload taken. A larger message is
	// terminated (the server never sends it again), counted (dropped,
	// cause "oversize") and logged. Default 1048576 (1 MiB, the server's
	// default max_payload).
	MaxMessageBytes int `json:"maxMessageBytes"`
	// CredentialsFile is a NATS .creds file (user JWT and NKey seed),
	// checked at start: it must hold a user JWT and that user's seed.
	// Default "": none.
	CredentialsFile string `json:"credentialsFile"`
	// Token is an authentication token. Default "": none. Never logged.
	Token config.Secret `json:"token"`
	// User and Password authenticate with a user name. Default "": none.
	User string `json:"user"`
	// Password: see User. Never logged.
	Password config.Secret `json:"password"`
	// TLS sets the files and checks of a TLS connection (a tls:// URL, or
	// a server that requires TLS). Default: the system's roots.
	TLS *TLSConfig `json:"tls"`
	// ConnectTimeout bounds one connection attempt. Default 10s.
	ConnectTimeout time.Duration `json:"connectTimeout"`
}

// DestinationConfig configures the "nats" destination, made by
// [NewDestination].
type DestinationConfig struct {
	// URL is the server's URL, nats://host:4222 (tls://host:4222 for
	// TLS); several, comma-separated, for a cluster. Required.
	URL string `json:"url" sluice:"required"`
	// Subject is the subject every event is published to; a JetStream
	// stream must capture it (checked at start). Required.
	Subject string `json:"subject" sluice:"required"`
	// Format is "raw" (each event's original bytes are the payload) or
	// "json" (one JSON object per event). Default "raw".
	Format string `json:"format"`
	// JSONRaw says which events keep their original bytes in format json:
	// "always" (default) or "unparsed".
	JSONRaw string `json:"jsonRaw"`
	// AckTimeout is how long a batch waits for the stream's PubAcks; past
	// it the batch is published again (the stream may then hold some of
	// its messages twice). Default 30s.
	AckTimeout time.Duration `json:"ackTimeout"`
	// MaxMessageBytes is the largest payload published; the server's
	// max_payload lowers it. A larger event goes to the dead letter, or,
	// without one, is counted (dropped, cause "oversize"), logged and
	// acked. Default 1048576 (1 MiB).
	MaxMessageBytes int `json:"maxMessageBytes"`
	// CredentialsFile is a NATS .creds file (user JWT and NKey seed),
	// checked at start: it must hold a user JWT and that user's seed.
	// Default "": none.
	CredentialsFile string `json:"credentialsFile"`
	// Token is an authentication token. Default "": none. Never logged.
	Token config.Secret `json:"token"`
	// User and Password authenticate with a user name. Default "": none.
	User string `json:"user"`
	// Password: see User. Never logged.
	Password config.Secret `json:"password"`
	// TLS sets the files and checks of a TLS connection (a tls:// URL, or
	// a server that requires TLS). Default: the system's roots.
	TLS *TLSConfig `json:"tls"`
	// ConnectTimeout bounds one connection attempt. Default 10s.
	ConnectTimeout time.Duration `json:"connectTimeout"`
	// Batch sets how events are grouped: each batch is published
	// asynchronously, its messages in flight together, and acked when the
	// stream has acknowledged every one; a failed batch is retried whole
	// (batch.retry; maxAttempts 0, the default, retries without limit).
	// Defaults: eager, count 1000, age 100ms, parallelism 1 (in order),
	// stopTimeout 5s.
	Batch batch.Config `json:"batch"`
}

// TLSConfig configures the client side of TLS.
type TLSConfig struct {
	// CAFile is a PEM file of certificates that replace the system's
	// roots for verifying the server. Default "": the system's roots.
	CAFile string `json:"caFile"`
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// mutual TLS; set both or neither. Default "": none.
	CertFile string `json:"certFile"`
	// KeyFile: see CertFile.
	KeyFile string `json:"keyFile"`
	// InsecureSkipVerify turns off verification of the server's
	// certificate. For tests only. Default false.
	InsecureSkipVerify bool `json:"insecureSkipVerify"`
}

// Defaults.
const (
	DefaultAckWait         = 30 * time.Second
	DefaultMaxAckPending   = 1000
	DefaultFetchBatch      = 256
	DefaultMaxMessageBytes = 1 << 20
	DefaultConnectTimeout  = 10 * time.Second
)

// DefaultSourceConfig returns a SourceConfig with every default set.
func DefaultSourceConfig() SourceConfig {
	return SourceConfig{AckWait: DefaultAckWait, MaxAckPending: DefaultMaxAckPending, FetchBatch: DefaultFetchBatch,
		MaxMessageBytes: DefaultMaxMessageBytes, ConnectTimeout: DefaultConnectTimeout}
}

// DefaultDestinationConfig returns a DestinationConfig with every default
// set.
func DefaultDestinationConfig() DestinationConfig {
	return DestinationConfig{Format: "raw", JSONRaw: "always", AckTimeout: 30 * time.Second,
		MaxMessageBytes: DefaultMaxMessageBytes, ConnectTimeout: DefaultConnectTimeout,
		Batch: batch.Config{Count: 1000, Age: 100 * time.Millisecond, Parallelism: 1, Eager: true}}
}

// Validate checks every field of c, each error naming its field.
func (c *SourceConfig) Validate() error {
	errs := c.conn().validate()
	field := func(path, format string, args ...any) {
		errs = append(errs, &config.FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Stream != "" && !validName(c.Stream) {
		field("stream", "want a name without spaces, '.', '*', '>', '/' or '\\', got %q", c.Stream)
	}
	if c.Durable != "" && !validName(c.Durable) {
		field("durable", "want a name without spaces, '.', '*', '>', '/' or '\\', got %q", c.Durable)
	}
	if c.Subject != "" && !validSubject(c.Subject) {
		field("subject", "want a subject such as logs.> (tokens separated by '.', no spaces), got %q", c.Subject)
	}
	if c.AckWait < time.Second {
		field("ackWait", "want at least 1s, got %v", c.AckWait)
	}
	if c.MaxAckPending < 1 {
		field("maxAckPending", "want at least 1, got %d", c.MaxAckPending)
	}
	if c.FetchBatch < 1 || c.FetchBatch > c.MaxAckPending {
		field("fetchBatch", "want 1 to maxAckPending (%d), got %d", c.MaxAckPending, c.FetchBatch)
	}
	if c.MaxMessageBytes < 1 {
		field("maxMessageBytes", "want at least 1, got %d", c.MaxMessageBytes)
	}
	return errors.Join(errs...)
}

// Validate checks every field of c, each error naming its field.
func (c *DestinationConfig) Validate() error {
	errs := c.conn().validate()
	field := func(path, format string, args ...any) {
		errs = append(errs, &config.FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Subject != "" && (!validSubject(c.Subject) || strings.ContainsAny(c.Subject, "*>")) {
		field("subject", "want a subject without wildcards such as out.app, got %q", c.Subject)
	}
	if c.Format != "raw" && c.Format != "json" {
		field("format", "want raw or json, got %q", c.Format)
	}
	if _, err := event.JSONRaw(c.JSONRaw); err != nil {
		field("jsonRaw", "%v", err)
	}
	if c.AckTimeout <= 0 {
		field("ackTimeout", "want more than 0, got %v", c.AckTimeout)
	}
	if c.MaxMessageBytes < 1 {
		field("maxMessageBytes", "want at least 1, got %d", c.MaxMessageBytes)
	}
	if err := c.Batch.Validate(); err != nil {
		field("batch", "%v", err)
	}
	return errors.Join(errs...)
}

// conn is what a source and a destination need to connect.
type conn struct {
	url, credsFile, user string
	token, password      config.Secret
	tls                  *TLSConfig
	timeout              time.Duration
}

func (c *SourceConfig) conn() conn {
	return conn{c.URL, c.CredentialsFile, c.User, c.Token, c.Password, c.TLS, c.ConnectTimeout}
}

func (c *DestinationConfig) conn() conn {
	return conn{c.URL, c.CredentialsFile, c.User, c.Token, c.Password, c.TLS, c.ConnectTimeout}
}

func (c conn) validate() []error {
	var errs []error
	field := func(path, format string, args ...any) {
		errs = append(errs, &config.FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if c.url != "" {
		if err := checkURLs(c.url); err != nil {
			field("url", "%v", err)
		}
	}
	if c.password != "" && c.user == "" {
		field("password", "set without user")
	}
	n := 0
	for _, set := range []bool{c.credsFile != "", c.token != "", c.user != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		field("credentialsFile", "set one of credentialsFile, token and user/password")
	}
	if c.credsFile != "" {
		if err := checkCreds(c.credsFile); err != nil {
			field("credentialsFile", "%v", err)
		}
	}
	if c.timeout <= 0 {
		field("connectTimeout", "want more than 0, got %v", c.timeout)
	}
	if t := c.tls; t != nil {
		if err := config.Pair("tls.certFile", "tls.keyFile", t.CertFile != "", t.KeyFile != ""); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// checkURLs checks a comma-separated list of server URLs. Its errors
// quote a URL without what precedes an '@': nats.go logs in with a user
// name and password, or a token, found there.
func checkURLs(s string) error {
	for u := range strings.SplitSeq(s, ",") {
		p, err := url.Parse(strings.TrimSpace(u))
		if err != nil || p.Host == "" {
			return fmt.Errorf("want a URL such as nats://host:4222, got %q", config.RedactUserinfo(u))
		}
		switch p.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Errorf("want scheme nats or tls, got %q", p.Scheme)
		}
	}
	return nil
}

// validName reports whether s can name a stream or a consumer.
func validName(s string) bool {
	return !strings.ContainsAny(s, " \t\r\n.*>/\\")
}

// validSubject reports whether s is a well-formed subject or filter.
func validSubject(s string) bool {
	if strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	toks := strings.Split(s, ".")
	for i, t := range toks {
		if t == "" || (strings.Contains(t, ">") && (t != ">" || i != len(toks)-1)) || (strings.Contains(t, "*") && t != "*") {
			return false
		}
	}
	return true
}

// redact returns the server URLs without users, passwords or tokens in
// them, for logs and errors.
func redact(urls string) string {
	var out []string
	for u := range strings.SplitSeq(urls, ",") {
		p, err := url.Parse(strings.TrimSpace(u))
		if err != nil {
			out = append(out, "(unparsable URL)")
			continue
		}
		out = append(out, p.Scheme+"://"+p.Host)
	}
	return strings.Join(out, ",")
}

// defaultDurable is sluiced-NAME with the characters a consumer name
// cannot hold replaced by '_'.
func defaultDurable(name string) string {
	return "sluiced-" + strings.Map(func(r rune) rune {
		if strings.ContainsRune(" \t\r\n.*>/\\", r) {
			return '_'
		}
		return r
	}, name)
}
