package webhook_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/webhook"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/daemon/daemontest"
)

func registry() *daemon.Registry { return daemontest.Registry(webhook.Register) }

func TestKawaRunRevealConfigLoads(t *testing.T) {
	const cfg = `{
		"sources": {"in": {"type": "test"}},
		"destinations": {
			// As in a kawa/reveald config.
			"runreveal": {"type": "runreveal", "webhookURL": "$RR_URL", "batchSize": 100, "flushFreq": "15s"},
		},
	}`
	const url = "https://api.runreveal.com/sources/hook/abc123?token=s3cret"
	lookup := func(name string) (string, bool) { return url, name == "RR_URL" }
	p, err := daemon.Load([]byte(cfg), registry(), config.WithLookup(lookup))
	if err != nil {
		t.Fatal(err)
	}
	c, ok := p.Destinations[0].Config.(*webhook.RunRevealConfig)
	if !ok {
		t.Fatalf("config is %T", p.Destinations[0].Config)
	}
	if c.WebhookURL.Reveal() != url || c.BatchSize != 100 || c.FlushFreq != 15*time.Second {
		t.Errorf("got %+v (url %v), want the kawa values", *c, c.WebhookURL.Reveal() == url)
	}
	if _, err := webhook.NewRunReveal(*c); err != nil {
		t.Errorf("NewRunReveal: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	const cfg = `{"sources": {"in": {"type": "test"}}, "destinations": {
		"rr": {"type": "runreveal", "webhookURL": "https://h/x"},
		"web": {"type": "http", "url": "https://h/x"}}}`
	p, err := daemon.Load([]byte(cfg), registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range p.Destinations {
		switch c := d.Config.(type) {
		case *webhook.RunRevealConfig:
			if c.BatchSize != 100 || c.FlushFreq != 15*time.Second {
				t.Errorf("runreveal defaults %+v, want 100, 15s", *c)
			}
		case *webhook.Config:
			if c.Format != "ndjson" || c.JSONRaw != "always" || c.Compression != "none" || c.Timeout != 30*time.Second ||
				c.Batch.Count != 1000 || c.Batch.Bytes != 1<<20 || c.Batch.Age != time.Second || c.Batch.Parallelism != 2 {
				t.Errorf("http defaults %+v", *c)
			}
		}
	}
}

// A header value with a tab, which RFC 9110 allows, loads.
func TestHeaderValueWithTab(t *testing.T) {
	cfg := `{"sources": {"in": {"type": "test"}}, "destinations": {"out": {"type": "http", "url": "https://h/x", "headers": {"X-Key": "a\tb"}}}}`
	if _, err := daemon.Load([]byte(cfg), registry()); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, dest string
		want       []string
	}{
		{"format", `{"type": "http", "url": "https://h/x", "format": "xml"}`, []string{`destinations.out.format: want ndjson, array or raw, got "xml"`}},
		{"jsonRaw", `{"type": "http", "url": "https://h/x", "jsonRaw": "parsed"}`, []string{`destinations.out.jsonRaw: want always or unparsed, got "parsed"`}},
		{"compression", `{"type": "http", "url": "https://h/x", "compression": "br"}`, []string{`destinations.out.compression: want none or gzip, got "br"`}},
		{"missing url", `{"type": "http"}`, []string{"destinations.out.url: required"}},
		{"missing webhookURL", `{"type": "runreveal", "batchSize": 10}`, []string{"destinations.out.webhookURL: required"}},
		{"kawa names only", `{"type": "runreveal", "webhookURL": "https://h/x", "batchsize": 10}`, []string{`destinations.out.batchsize: unknown field (did you mean "batchSize"?)`}},
		{"scheme", `{"type": "http", "url": "ftp://h/s3cret"}`, []string{"destinations.out.url: want an http:// or https:// URL"}},
		{"timeout", `{"type": "http", "url": "https://h/x", "timeout": 30}`, []string{"destinations.out.timeout: want a duration string"}},
		{"secret not echoed", `{"type": "http", "url": 5, "bearerToken": 7}`, []string{"destinations.out.url: want a string", "destinations.out.bearerToken: want a string"}},
		{"basic auth", `{"type": "http", "url": "https://h/x", "basicAuth": {"password": "s3cret"}}`, []string{"destinations.out.basicAuth.username: required"}},
		{"flushFreq", `{"type": "runreveal", "webhookURL": "https://h/x", "flushFreq": "soon"}`, []string{"destinations.out.flushFreq: want a duration string"}},
		{"header value with LF", `{"type": "http", "url": "https://h/x", "headers": {"X-Api-Key": "s3cret\nX-Injected: 1"}}`,
			[]string{"destinations.out.headers.X-Api-Key: the value holds a newline"}},
		{"header value with CR", `{"type": "http", "url": "https://h/x", "headers": {"A": "ok", "X-Key": "s3cret\r"}}`,
			[]string{"destinations.out.headers.X-Key: the value holds a newline"}},
		{"header value with NUL", `{"type": "http", "url": "https://h/x", "headers": {"X-Key": "s3cret\u0000"}}`,
			[]string{"destinations.out.headers.X-Key: the value holds a newline or another control character"}},
		{"header name", `{"type": "http", "url": "https://h/x", "headers": {"X Key": "s3cret"}}`,
			[]string{`destinations.out.headers.X Key: "X Key" is not a valid header name`}},
		{"bearer token with LF", `{"type": "http", "url": "https://h/x", "bearerToken": "s3cret\n"}`,
			[]string{"destinations.out.bearerToken: the value holds a newline"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := `{"sources": {"in": {"type": "test"}}, "destinations": {"out": ` + tc.dest + `}}`
			_, err := daemon.Load([]byte(cfg), registry())
			if err == nil {
				t.Fatal("Load = nil, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %v, want %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows a secret", err)
			}
		})
	}
}
