package store

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/retry"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	} {
		got, ok := RetryAfter(tc.v, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
	h := http.Header{"Retry-After": {"2"}}
	err := RetryLater(errors.New("busy"), h)
	if d, ok := retry.Hint(err); !sluice.IsRetryable(err) || !ok || d != 2*time.Second {
		t.Errorf("RetryLater = %v (retryable %v, hint %v %v), want retryable after 2s", err, sluice.IsRetryable(err), d, ok)
	}
	if err := RetryLater(errors.New("busy"), http.Header{}); !sluice.IsRetryable(err) {
		t.Errorf("RetryLater without a header = %v, want retryable", err)
	}
}

func TestRetryable(t *testing.T) {
	for status, want := range map[int]bool{200: false, 400: false, 404: false, 408: true, 413: false, 429: true, 500: true, 503: true} {
		if Retryable(status) != want {
			t.Errorf("Retryable(%d) = %v", status, !want)
		}
	}
}

func TestSecrets(t *testing.T) {
	s := NewSecrets("abc", "token-1234", "http://u:token-1234@host")
	if len(s) != 2 || s[0] != "http://u:token-1234@host" {
		t.Fatalf("NewSecrets = %q, want the two of 4 bytes or more, longest first", s)
	}
	if got := s.Redact("GET http://u:token-1234@host/x with token-1234"); strings.Contains(got, "1234") {
		t.Errorf("Redact left a secret: %q", got)
	}
	long := strings.Repeat("é", 200) + "token-1234"
	got := s.Snippet("\xff"+long, 256)
	if !strings.HasSuffix(got, "…") || len(got) > 256+len("…") || strings.Contains(got, "\xff") {
		t.Errorf("Snippet = %q, want valid UTF-8 cut at 256 bytes", got)
	}
	cause, err := s.TransportError(context.Background(), "x: POST http://host", errors.New("dial http://u:token-1234@host: refused"))
	if cause != "network" || !sluice.IsRetryable(err) || strings.Contains(err.Error(), "1234") {
		t.Errorf("TransportError = %v, %q; want a retryable network error without the secret", err, cause)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if cause, err := s.TransportError(ctx, "x", errors.New("boom")); cause != "" || !errors.Is(err, context.Canceled) {
		t.Errorf("TransportError after cancel = %v, %q; want context.Canceled and no cause", err, cause)
	}
}

func TestCheckURL(t *testing.T) {
	for u, want := range map[string]string{
		"http://h:9200":         "",
		"https://h/prefix":      "",
		"ftp://h":               "want an http",
		"http://":               "no host",
		"http://h/?x=1":         "without query",
		"http://u:secret@h:1%z": "not a valid URL",
	} {
		err := CheckURL(u)
		if (want == "") != (err == nil) || err != nil && (!strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "secret")) {
			t.Errorf("CheckURL(%q) = %v, want %q", u, err, want)
		}
	}
	if got := Endpoint("https://u:p@h:9200/x?y"); got != "https://h:9200" {
		t.Errorf("Endpoint = %q", got)
	}
}

func TestTLS(t *testing.T) {
	if err := (TLS{CertFile: "c.pem"}).Check(); err == nil || err.Error() != "tls.keyFile: required with tls.certFile" {
		t.Errorf("Check of a cert without its key = %v", err)
	}
	if err := (TLS{KeyFile: "k.pem"}).Check(); err == nil || err.Error() != "tls.certFile: required with tls.keyFile" {
		t.Errorf("Check of a key without its cert = %v", err)
	}
	if tc, err := (TLS{}).Config(); tc != nil || err != nil {
		t.Errorf("Config of a zero block = %v, %v; want nil, nil", tc, err)
	}
	if _, err := (TLS{CAFile: "/nonexistent/ca.pem"}).Config(); err == nil || !strings.Contains(err.Error(), "/nonexistent/ca.pem") {
		t.Errorf("Config with a missing CA file = %v, want an error naming it", err)
	}
}
