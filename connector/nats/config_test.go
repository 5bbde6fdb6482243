package nats

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/daemon/config"
)

func TestValidSubject(t *testing.T) {
	for _, tc := range []struct {
		s  string
		ok bool
	}{
		{"logs", true}, {"logs.>", true}, {"logs.*.app", true}, {">", true}, {"*", true},
		{"", false}, {"logs.", false}, {".logs", false}, {"logs..app", false}, {"logs.>.app", false},
		{"logs.a>", false}, {"logs.a*", false}, {"logs app", false}, {"logs.\t", false},
	} {
		if got := validSubject(tc.s); got != tc.ok {
			t.Errorf("validSubject(%q) = %v, want %v", tc.s, got, tc.ok)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*SourceConfig)
		want string // in the error; "" for none
	}{
		{"defaults", func(*SourceConfig) {}, ""},
		{"cluster", func(c *SourceConfig) { c.URL = "nats://a:4222, tls://b:4222" }, ""},
		{"scheme", func(c *SourceConfig) { c.URL = "http://a:4222" }, "url: want scheme nats or tls"},
		{"fetch over pending", func(c *SourceConfig) { c.FetchBatch = 2000 }, "fetchBatch: want 1 to maxAckPending (1000), got 2000"},
		{"ackWait", func(c *SourceConfig) { c.AckWait = 0 }, "ackWait: want at least 1s"},
		{"two credentials", func(c *SourceConfig) { c.Token, c.User = "t", "u" }, "set one of credentialsFile, token and user/password"},
		{"password alone", func(c *SourceConfig) { c.Password = "p" }, "password: set without user"},
		{"creds missing", func(c *SourceConfig) { c.CredentialsFile = "/nonexistent.creds" }, "credentialsFile: open /nonexistent.creds"},
		{"durable with a dot", func(c *SourceConfig) { c.Durable = "a.b" }, "durable: want a name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultSourceConfig()
			c.URL, c.Stream = "nats://h:4222", "LOGS"
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
	if got := defaultDurable("my.src *x"); got != "sluiced-my_src__x" {
		t.Errorf("defaultDurable = %q", got)
	}
}

// A URL that does not parse is quoted in the error without the user name
// and password, or token, it carries: nats.go logs in with them.
func TestValidateHidesURLCredentials(t *testing.T) {
	for _, u := range []string{
		"admin:S3cretPw@127.0.0.1:4222", // no scheme: parsed as scheme "admin"
		"nats://u:S3cretPw@[::1",        // unparsable
		"nats://a:4222,S3cretPw@",       // no host
	} {
		c := DefaultSourceConfig()
		c.URL, c.Stream = u, "LOGS"
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "url: ") {
			t.Errorf("Validate(url %q) = %v, want an error about url", u, err)
			continue
		}
		if strings.Contains(err.Error(), "S3cretPw") {
			t.Errorf("Validate(url %q) = %v: shows the password", u, err)
		}
	}
}

// An empty required field is named alone, as a field path the daemon
// prefixes ("sources.n.url: required"), not with its neighbour.
func TestNewRequired(t *testing.T) {
	_, err := NewSource(SourceConfig{Stream: "LOGS"}, "n")
	var fe *config.FieldError
	if !errors.As(err, &fe) || fe.Path != "url" || strings.Contains(err.Error(), "stream") {
		t.Errorf("NewSource without url = %v, want a FieldError for url alone", err)
	}
	_, err = NewDestination(DestinationConfig{URL: "nats://h:4222"}, "n")
	if !errors.As(err, &fe) || fe.Path != "subject" || strings.Contains(err.Error(), "url") {
		t.Errorf("NewDestination without subject = %v, want a FieldError for subject alone", err)
	}
	// Both empty: one error each, neither hidden behind the other.
	_, err = NewSource(SourceConfig{}, "n")
	if got := fmt.Sprint(config.Nest("sources.n", err)); got != "[sources.n.url: required sources.n.stream: required]" {
		t.Errorf("NewSource(zero) placed as %s, want url and stream each required", got)
	}
}
