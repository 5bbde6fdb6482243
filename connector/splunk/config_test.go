package splunk_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/splunk"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/builtin"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/daemon/daemontest"
)

// TestDocsExample loads the example of docs/stores/splunk.md.
func TestDocsExample(t *testing.T) {
	b, err := os.ReadFile("../../docs/stores/splunk.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```hujson\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("no hujson block in docs/stores/splunk.md")
	}
	lookup := func(name string) (string, bool) { return token, name == "SPLUNK_HEC_TOKEN" }
	p, err := daemon.Load(m[1], builtin.Registry(), config.WithLookup(lookup))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range p.Destinations {
		c, ok := d.Config.(*splunk.Config)
		if !ok {
			continue
		}
		if c.Token.Reveal() != token || !c.AckEnabled || c.Index != "network" || c.Batch.Parallelism != 8 ||
			c.AckTimeout != 2*time.Minute || c.Event != "raw" {
			t.Errorf("config %+v", *c)
		}
		if _, err := splunk.New(*c); err != nil {
			t.Error(err)
		}
		return
	}
	t.Error("no splunk_hec destination in the example")
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, dest string
		want       []string
	}{
		{"missing", `{"type": "splunk_hec"}`, []string{"destinations.out.url: required", "destinations.out.token: required"}},
		{"scheme", `{"type": "splunk_hec", "url": "tcp://h:8088", "token": "s3cret"}`, []string{"destinations.out.url: want an http:// or https:// URL"}},
		{"endpoint url", `{"type": "splunk_hec", "url": "https://h:8088/services/collector/event", "token": "s3cret"}`, []string{"destinations.out.url: want the base URL, without /services/collector"}},
		{"collector url", `{"type": "splunk_hec", "url": "https://h:8088/services/collector", "token": "s3cret"}`, []string{"destinations.out.url: want the base URL, without /services/collector"}},
		{"event", `{"type": "splunk_hec", "url": "https://h:8088", "token": "s3cret", "event": "text"}`, []string{`destinations.out.event: want raw or json, got "text"`}},
		{"compression", `{"type": "splunk_hec", "url": "https://h:8088", "token": "s3cret", "compression": "zstd"}`, []string{`destinations.out.compression: want gzip or none, got "zstd"`}},
		{"channel", `{"type": "splunk_hec", "url": "https://h:8088", "token": "s3cret", "channel": "c1"}`, []string{"destinations.out.channel: want a GUID"}},
		{"ackTimeout", `{"type": "splunk_hec", "url": "https://h:8088", "token": "s3cret", "ackTimeout": "-1s"}`, []string{"destinations.out.ackTimeout: want 0 or more, got -1s"}},
		{"unknown", `{"type": "splunk_hec", "url": "https://h:8088", "token": "s3cret", "ack": true}`, []string{"destinations.out.ack: unknown field"}},
		{"token type", `{"type": "splunk_hec", "url": "https://h:8088", "token": 5}`, []string{"destinations.out.token: want a string"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := `{"sources": {"in": {"type": "test"}}, "destinations": {"out": ` + tc.dest + `}}`
			_, err := daemon.Load([]byte(cfg), daemontest.Registry(splunk.Register))
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
