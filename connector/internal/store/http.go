package store

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/retry"
)

// HTTPClient returns a client that takes at most timeout per request and
// never follows a redirect, on a transport of its own (keeping maxIdle
// idle connections, each for idleTimeout if not 0, with TLS tc if not
// nil). Close the transport's idle connections when done with it.
func HTTPClient(timeout time.Duration, tc *tls.Config, maxIdle int, idleTimeout time.Duration) (*http.Client, *http.Transport) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = maxIdle
	if idleTimeout > 0 {
		t.IdleConnTimeout = idleTimeout
	}
	if tc != nil {
		t.TLSClientConfig = tc
	}
	return &http.Client{Transport: t, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, t
}

// CheckURL reports whether s is an absolute http(s) base URL; its error
// never holds s.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("want an http:// or https:// URL")
	}
	if u.Host == "" {
		return errors.New("URL has no host")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return errors.New("want a base URL without query or fragment")
	}
	return nil
}

// CheckBase reports whether the path of s, a base URL, holds api, the
// path the store adds to it: a URL copied from another tool's config
// with the endpoint in it would otherwise fail only once events flow,
// as a 404. Its error never holds s.
func CheckBase(s, api string) error {
	u, err := url.Parse(s)
	if err == nil && strings.Contains(u.Path, api) {
		return fmt.Errorf("want the base URL, without %s: it is added to it", api)
	}
	return nil
}

// Endpoint returns scheme://host of s, safe to show in errors and logs.
func Endpoint(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host
}

// Retryable reports whether an HTTP status is worth a retry: 408, 429
// and 5xx.
func Retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// RetryLater marks err retryable, after the delay the Retry-After header
// of h asks for, if any.
func RetryLater(err error, h http.Header) error {
	err = sluice.Retryable(err)
	if d, ok := RetryAfter(h.Get("Retry-After"), time.Now()); ok {
		return retry.After(err, d)
	}
	return err
}

// RetryAfter parses a Retry-After header: delay-seconds or an HTTP date
// (a date past gives 0).
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// TransportError turns a failed client.Do into an error starting with
// what (such as "loki: POST http://host"), without the URL, with s
// masked, and retryable unless ctx is done. It also returns the cause
// for the metrics: "timeout" or "network" ("" when ctx is done).
func (s Secrets) TransportError(ctx context.Context, what string, err error) (cause string, _ error) {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its text holds the URL
	}
	if ctx.Err() != nil {
		return "", fmt.Errorf("%s: %w", what, ctx.Err())
	}
	cause = "network"
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		cause = "timeout"
	}
	if len(s) > 0 {
		return cause, sluice.Retryable(fmt.Errorf("%s: %s", what, s.Redact(err.Error())))
	}
	return cause, sluice.Retryable(fmt.Errorf("%s: %w", what, err))
}

// Secrets are the secret values of a config that Redact masks.
type Secrets []string

// NewSecrets returns the values of 4 bytes or more among vals, longest
// first (so that a secret holding another is masked whole).
func NewSecrets(vals ...string) Secrets {
	var s Secrets
	for _, v := range vals {
		if len(v) >= 4 {
			s = append(s, v)
		}
	}
	slices.SortStableFunc(s, func(a, b string) int { return len(b) - len(a) })
	return s
}

// BasicAuth returns the base64 of user:password that HTTP basic
// authentication sends: a secret as much as the password, for a server
// may quote the Authorization header back.
func BasicAuth(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// Redact returns text with every secret replaced by [config.Redacted].
func (s Secrets) Redact(text string) string {
	for _, v := range s {
		text = strings.ReplaceAll(text, v, config.Redacted)
	}
	return text
}

// Snippet returns text masked, as valid UTF-8, cut to n bytes and "…".
func (s Secrets) Snippet(text string, n int) string {
	text = s.Redact(strings.ToValidUTF8(text, "\uFFFD"))
	if len(text) > n {
		text = strings.ToValidUTF8(text[:n], "") + "…"
	}
	return text
}
