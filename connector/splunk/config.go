package splunk

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/internal/store"
	"github.com/sluicehq/sluice/daemon/config"
)

// Config configures the "splunk_hec" destination, made by [New].
type Config struct {
	// URL is the HTTP Event Collector's base URL, such as
	// "https://splunk.example.com:8088"; events go to
	// <url>/services/collector/event (a URL already holding
	// /services/collector is refused). Errors and logs show only its
	// scheme and host. Required.
	URL config.Secret `json:"url" sluice:"required"`
	// Token is the HEC token, sent as "Authorization: Splunk <token>". It
	// never appears in a log line or an error. Required.
	Token config.Secret `json:"token" sluice:"required"`
	// Index is the index events go to. Default "": the token's default
	// index.
	Index string `json:"index"`
	// Sourcetype is every event's sourcetype. Default "": the event's
	// source type (such as "syslog").
	Sourcetype string `json:"sourcetype"`
	// Source is every event's source. Default "": the name of the
	// sluiced source the event came from.
	Source string `json:"source"`
	// Event is what the "event" key holds: "raw" (the original line, as a
	// string, for Splunk's sourcetype parsing) or "json" (the event object
	// sluice encodes, with its parsed fields). An event with no raw bytes
	// is sent as "json" either way (HEC refuses a blank event). Default
	// "raw".
	Event string `json:"event"`
	// AckEnabled turns on indexer acknowledgement: it must match the
	// token's setting. Each request then carries a channel, and its events
	// are acked only once /services/collector/ack confirms that they are
	// indexed; a request not confirmed within AckTimeout is sent again.
	// Each batch waits for its own ack, so at most batch.parallelism acks
	// are outstanding. Default false: acked on the HTTP 200 (the events
	// are queued by HEC, not yet indexed).
	AckEnabled bool `json:"ackEnabled"`
	// Channel is the channel GUID sent with every request when
	// AckEnabled. Default: a random one per start.
	Channel string `json:"channel"`
	// AckPollInterval is how often a batch asks whether it is indexed.
	// Default 1s.
	AckPollInterval time.Duration `json:"ackPollInterval"`
	// AckTimeout is how long a batch waits for its ack before it is sent
	// again (Splunk forgets the ack ids of a restarted indexer). Default
	// 2m.
	AckTimeout time.Duration `json:"ackTimeout"`
	// Compression is "gzip" (each event request's body is gzipped and sent
	// with Content-Encoding: gzip, which HEC takes, as Splunk's own
	// OpenTelemetry exporter does by default; batch.bytes still counts the
	// uncompressed size) or "none" (for a proxy in between that does not
	// pass it on). Ack polls are small and never compressed. Default
	// "gzip".
	Compression string `json:"compression"`
	// Timeout bounds one HTTP request. Default 30s.
	Timeout time.Duration `json:"timeout"`
	// TLS configures https connections. Default: the system's roots, no
	// client certificate.
	TLS TLSConfig `json:"tls"`
	// Batch sets when requests are cut and how failed ones are retried
	// (batch.retry; maxAttempts 0, the default, retries without limit).
	// Bytes counts the event objects' uncompressed bytes (with a
	// deadLetter, each event as its raw size plus 256). Defaults: count
	// 1000, bytes 1 MiB (Splunk Cloud refuses bodies over 1 MB), age 1s,
	// parallelism 4, stopTimeout 5s.
	Batch batch.Config `json:"batch"`
}

// TLSConfig configures the client side of TLS.
type TLSConfig = store.TLS

// DefaultConfig returns a Config with every default set and no URL or
// token.
func DefaultConfig() Config {
	return Config{Event: "raw", Compression: "gzip", AckPollInterval: time.Second, AckTimeout: 2 * time.Minute, Timeout: 30 * time.Second,
		Batch: batch.Config{Count: 1000, Bytes: 1 << 20, Age: time.Second, Parallelism: 4}}
}

var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Validate checks the fields. It never shows the token or the URL.
func (c *Config) Validate() error {
	var errs []error
	if c.URL != "" {
		if err := cmp.Or(store.CheckURL(c.URL.Reveal()), store.CheckBase(c.URL.Reveal(), "/services/collector")); err != nil {
			errs = append(errs, &config.FieldError{Path: "url", Msg: err.Error()})
		}
	}
	if c.Event != "raw" && c.Event != "json" {
		errs = append(errs, &config.FieldError{Path: "event", Msg: fmt.Sprintf("want raw or json, got %q", c.Event)})
	}
	if c.Compression != "gzip" && c.Compression != "none" {
		errs = append(errs, &config.FieldError{Path: "compression", Msg: fmt.Sprintf("want gzip or none, got %q", c.Compression)})
	}
	if c.Channel != "" && !guid.MatchString(c.Channel) {
		errs = append(errs, &config.FieldError{Path: "channel", Msg: "want a GUID such as 0aeeac95-ac74-4aa9-b30d-6c4c0ac581ba"})
	}
	for _, d := range []struct {
		path string
		v    time.Duration
	}{{"ackPollInterval", c.AckPollInterval}, {"ackTimeout", c.AckTimeout}, {"timeout", c.Timeout}} {
		if d.v < 0 {
			errs = append(errs, config.Want(d.path, "0 or more", d.v))
		}
	}
	if err := c.TLS.Check(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Batch.Validate(); err != nil {
		errs = append(errs, config.Nest("batch", err)...)
	}
	return errors.Join(errs...)
}
