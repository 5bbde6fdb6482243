package loki

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/internal/store"
	"github.com/sluicehq/sluice/daemon/config"
)

// Config configures the "loki" destination, made by [New].
type Config struct {
	// URL is Loki's base URL, such as "http://loki:3100"; the push path
	// /loki/api/v1/push is added to its path (a URL already holding it,
	// as promtail's client url does, is refused). Required.
	URL string `json:"url" sluice:"required"`
	// Labels are the stream labels of each event: a label name and a
	// template of its value, text with placeholders in braces naming the
	// event's fields as in its JSON: {source}, {sourceType}, {host},
	// {contentType}, {syslog.appName}, {syslog.hostname},
	// {syslog.severity}, {syslog.facility}, {syslog.procId},
	// {syslog.msgId}, {http.method}, {http.status}, {file.path},
	// {fields.NAME}; "{{" is a literal brace. A label whose value is
	// empty is left out; an event left with no label gets job="sluiced".
	// Every distinct label set is a stream in Loki: keep the values few
	// (see docs/stores/loki.md). At most 15 labels. Default, when the
	// field is absent: {"job": "sluiced"}.
	Labels map[string]string `json:"labels"`
	// TenantID, if set, is sent as the X-Scope-OrgID header (Loki's
	// multi-tenant mode). Default "": none.
	TenantID string `json:"tenantID"`
	// Username and Password, if set, are sent with HTTP basic
	// authentication (Grafana Cloud, a proxy). Default "": none.
	Username string `json:"username"`
	// Password is Username's password. Default "".
	Password config.Secret `json:"password"`
	// Line is what each log line holds: "raw" (the event's original
	// bytes, as received) or "json" (the event as JSON, with its parsed
	// fields). Default "raw".
	Line string `json:"line"`
	// Compression is "none" or "gzip" (Content-Encoding: gzip). Default
	// "none".
	Compression string `json:"compression"`
	// Timeout bounds one push, from connecting to reading the response;
	// a push that takes longer is retried. Default 30s.
	Timeout time.Duration `json:"timeout"`
	// Batch sets when pushes are cut and how failed pushes are retried
	// (maxAttempts 0, the default, retries without limit). Loki refuses
	// bodies over 4 MiB (grpc_server_max_recv_msg_size), so bytes is
	// capped at 1 MiB by default. Parallelism 1 keeps each stream's
	// pushes in order. Defaults: count 5000, bytes 1 MiB (each event
	// counts as its raw line plus 64, or twice it plus 256 with line json; a push whose JSON is over 4 MiB is split), age 1s, parallelism 1, stopTimeout 5s.
	Batch batch.Config `json:"batch"`
}

// DefaultConfig returns a Config with every default set but Labels (so
// that a config's labels replace the default rather than add to it), and
// no URL.
func DefaultConfig() Config {
	return Config{Line: "raw", Compression: "none", Timeout: 30 * time.Second,
		Batch: batch.Config{Count: 5000, Bytes: 1 << 20, Age: time.Second, Parallelism: 1}}
}

// maxLabels is Loki's default max_label_names_per_series.
const maxLabels = 15

// Validate checks c's fields, each error naming the field's path.
func (c *Config) Validate() error {
	var errs []error
	if c.URL != "" {
		if err := cmp.Or(checkURL(c.URL), store.CheckBase(c.URL, "/loki/api/v1/push")); err != nil {
			errs = append(errs, &config.FieldError{Path: "url", Msg: err.Error()})
		}
	}
	if len(c.Labels) > maxLabels {
		errs = append(errs, &config.FieldError{Path: "labels", Msg: fmt.Sprintf("%d labels, Loki allows at most %d", len(c.Labels), maxLabels)})
	}
	for name, tmpl := range c.Labels {
		if !validLabelName(name) {
			errs = append(errs, &config.FieldError{Path: "labels." + name, Msg: "not a label name: want letters, digits and _, not starting with a digit or __"})
			continue
		}
		if _, err := parseTemplate(tmpl); err != nil {
			errs = append(errs, &config.FieldError{Path: "labels." + name, Msg: err.Error()})
		}
	}
	if c.Line != "" && c.Line != "raw" && c.Line != "json" {
		errs = append(errs, &config.FieldError{Path: "line", Msg: fmt.Sprintf("want raw or json, got %q", c.Line)})
	}
	if c.Compression != "" && c.Compression != "none" && c.Compression != "gzip" {
		errs = append(errs, &config.FieldError{Path: "compression", Msg: fmt.Sprintf("want none or gzip, got %q", c.Compression)})
	}
	if c.Timeout < 0 {
		errs = append(errs, config.Want("timeout", "0 or more", c.Timeout))
	}
	if err := c.Batch.Validate(); err != nil {
		errs = append(errs, config.Nest("batch", err)...)
	} else if c.Batch.Bytes > 4<<20 {
		errs = append(errs, &config.FieldError{Path: "batch.bytes", Msg: "Loki refuses pushes over 4 MiB: want at most 4194304"})
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	def := DefaultConfig()
	if c.Labels == nil {
		c.Labels = map[string]string{"job": "sluiced"}
	}
	if c.Line == "" {
		c.Line = def.Line
	}
	if c.Compression == "" {
		c.Compression = def.Compression
	}
	if c.Timeout == 0 {
		c.Timeout = def.Timeout
	}
	if c.Batch == (batch.Config{}) {
		c.Batch = def.Batch
	}
	return c
}

// pushURL returns the URL pushes go to.
func (c Config) pushURL() string {
	u, _ := url.Parse(c.URL) // checked by Validate
	u = u.JoinPath("loki/api/v1/push")
	return u.String()
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return errors.New("not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("want an http:// or https:// URL, got scheme %q", u.Scheme)
	case u.Host == "":
		return errors.New("URL has no host")
	case u.User != nil:
		return errors.New("URL must not hold credentials: use username and password")
	}
	return nil
}

// validLabelName reports whether s is a Prometheus label name that Loki
// accepts; names starting with __ are reserved.
func validLabelName(s string) bool {
	if s == "" || len(s) > 1024 || len(s) >= 2 && s[:2] == "__" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
