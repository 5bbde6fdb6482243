package loki_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/connector/loki"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/daemontest"
)

func registry() *daemon.Registry {
	return daemontest.Registry(loki.Register, file.Register, file.RegisterSource)
}

// TestDocsExample loads the config example of docs/stores/loki.md.
func TestDocsExample(t *testing.T) {
	b, err := os.ReadFile("../../docs/stores/loki.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```jsonc\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("docs/stores/loki.md has no ```jsonc block")
	}
	t.Setenv("LOKI_PASSWORD", "s3cret-pass")
	p, err := daemon.Load(m[1], registry())
	if err != nil {
		t.Fatalf("the docs example does not load: %v", err)
	}
	var c *loki.Config
	for _, d := range p.Destinations {
		if cc, ok := d.Config.(*loki.Config); ok {
			c = cc
		}
	}
	if c == nil {
		t.Fatal("the docs example has no loki destination")
	}
	if c.TenantID == "" || len(c.Labels) < 2 {
		t.Errorf("got %+v, want the example's tenant and labels", *c)
	}
	if _, err := loki.New(*c); err != nil {
		t.Errorf("New: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	const cfg = `{"sources": {"in": {"type": "test"}}, "destinations": {"l": {"type": "loki", "url": "http://h:3100"}}}`
	p, err := daemon.Load([]byte(cfg), registry())
	if err != nil {
		t.Fatal(err)
	}
	c := p.Destinations[0].Config.(*loki.Config)
	if len(c.Labels) != 0 || c.Line != "raw" || c.Compression != "none" || c.Timeout != 30*time.Second ||
		c.Batch.Count != 5000 || c.Batch.Bytes != 1<<20 || c.Batch.Age != time.Second || c.Batch.Parallelism != 1 {
		t.Errorf("defaults %+v", *c)
	}
	if _, err := loki.New(*c); err != nil { // labels {"job": "sluiced"}: TestConformance pushes with its own
		t.Error(err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, dest string
		want       []string
	}{
		{"missing url", `{"type": "loki"}`, []string{"destinations.out.url: required"}},
		{"scheme", `{"type": "loki", "url": "grpc://h:9095"}`, []string{`destinations.out.url: want an http:// or https:// URL, got scheme "grpc"`}},
		{"credentials in url", `{"type": "loki", "url": "http://u:s3cret@h:3100"}`, []string{"destinations.out.url: URL must not hold credentials"}},
		{"push url", `{"type": "loki", "url": "http://h:3100/loki/api/v1/push"}`, []string{"destinations.out.url: want the base URL, without /loki/api/v1/push"}},
		{"unknown field in template", `{"type": "loki", "url": "http://h", "labels": {"app": "{syslog.app}"}}`, []string{"destinations.out.labels.app: unknown field {syslog.app}"}},
		{"unclosed template", `{"type": "loki", "url": "http://h", "labels": {"app": "{host"}}`, []string{`destinations.out.labels.app: unclosed { in "{host"`}},
		{"stray brace", `{"type": "loki", "url": "http://h", "labels": {"app": "a}b"}}`, []string{`destinations.out.labels.app: unopened }`}},
		{"label name", `{"type": "loki", "url": "http://h", "labels": {"1app": "x"}}`, []string{"destinations.out.labels.1app: not a label name"}},
		{"reserved label name", `{"type": "loki", "url": "http://h", "labels": {"__name__": "x"}}`, []string{"destinations.out.labels.__name__: not a label name"}},
		{"too many labels", `{"type": "loki", "url": "http://h", "labels": {"a":"1","b":"1","c":"1","d":"1","e":"1","f":"1","g":"1","h":"1","i":"1","j":"1","k":"1","l":"1","m":"1","n":"1","o":"1","p":"1"}}`,
			[]string{"destinations.out.labels: 16 labels, Loki allows at most 15"}},
		{"line", `{"type": "loki", "url": "http://h", "line": "text"}`, []string{`destinations.out.line: want raw or json, got "text"`}},
		{"compression", `{"type": "loki", "url": "http://h", "compression": "snappy"}`, []string{`destinations.out.compression: want none or gzip, got "snappy"`}},
		{"batch over 4 MiB", `{"type": "loki", "url": "http://h", "batch": {"bytes": 5000000}}`, []string{"destinations.out.batch.bytes: Loki refuses pushes over 4 MiB"}},
		{"unknown field", `{"type": "loki", "url": "http://h", "tenant": "a"}`, []string{"destinations.out.tenant: unknown field"}},
		{"password not echoed", `{"type": "loki", "url": "http://h", "password": 5}`, []string{"destinations.out.password: want a string"}},
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
