package clickhouse_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/clickhouse"
	"github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/daemontest"
)

func registry() *daemon.Registry {
	return daemontest.Registry(clickhouse.Register, file.Register, file.RegisterSource)
}

// TestDocsExample loads the config example of docs/stores/clickhouse.md.
func TestDocsExample(t *testing.T) {
	cfg := docsExample(t, "../../docs/stores/clickhouse.md")
	t.Setenv("CLICKHOUSE_PASSWORD", "s3cret-pass")
	p, err := daemon.Load([]byte(cfg), registry())
	if err != nil {
		t.Fatalf("the docs example does not load: %v", err)
	}
	var c *clickhouse.Config
	for _, d := range p.Destinations {
		if cc, ok := d.Config.(*clickhouse.Config); ok {
			c = cc
		}
	}
	if c == nil {
		t.Fatal("the docs example has no clickhouse destination")
	}
	if c.Table != "logs" || c.Password.Reveal() != "s3cret-pass" {
		t.Errorf("got table %q, password set %v", c.Table, c.Password.Reveal() == "s3cret-pass")
	}
	if _, err := clickhouse.New(*c); err != nil {
		t.Errorf("New: %v", err)
	}
}

// docsExample returns the first ```jsonc block of the page at path.
func docsExample(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```jsonc\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s has no ```jsonc block", path)
	}
	return string(m[1])
}

func TestDefaults(t *testing.T) {
	const cfg = `{"sources": {"in": {"type": "test"}}, "destinations": {"ch": {"type": "clickhouse", "url": "http://h:8123", "table": "logs"}}}`
	p, err := daemon.Load([]byte(cfg), registry())
	if err != nil {
		t.Fatal(err)
	}
	c := p.Destinations[0].Config.(*clickhouse.Config)
	if c.Database != "default" || c.Compression != "lz4" || c.Nested != "flatten" || c.Timeout != 30*time.Second || c.IdleTimeout != 2*time.Second ||
		c.Batch.Count != 10000 || c.Batch.Bytes != 8<<20 || c.Batch.Age != time.Second || c.Batch.Parallelism != 2 {
		t.Errorf("defaults %+v", *c)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, dest string
		want       []string
	}{
		{"missing url", `{"type": "clickhouse", "table": "logs"}`, []string{"destinations.out.url: required"}},
		{"missing table", `{"type": "clickhouse", "url": "http://h:8123"}`, []string{"destinations.out.table: required"}},
		{"scheme", `{"type": "clickhouse", "url": "tcp://h:9000", "table": "logs"}`, []string{`destinations.out.url: want an http:// or https:// URL, got scheme "tcp"`}},
		{"credentials in url", `{"type": "clickhouse", "url": "http://u:s3cret@h:8123", "table": "logs"}`, []string{"destinations.out.url: URL must not hold credentials"}},
		{"query in url", `{"type": "clickhouse", "url": "http://h:8123/?user=x", "table": "logs"}`, []string{"destinations.out.url: URL must not hold a query: use settings"}},
		{"table name", `{"type": "clickhouse", "url": "http://h:8123", "table": "logs; DROP TABLE x"}`, []string{`destinations.out.table: want a name of letters, digits and _`}},
		{"database name", `{"type": "clickhouse", "url": "http://h:8123", "table": "t", "database": "a.b"}`, []string{`destinations.out.database: want a name`}},
		{"setting name", `{"type": "clickhouse", "url": "http://h:8123", "table": "t", "settings": {"query": "x"}}`, []string{"destinations.out.settings.query: not a setting name"}},
		{"setting value type", `{"type": "clickhouse", "url": "http://h:8123", "table": "t", "settings": {"max_threads": 4}}`, []string{"destinations.out.settings.max_threads: want a string"}},
		{"compression", `{"type": "clickhouse", "url": "http://h:8123", "table": "t", "compression": "zstd"}`, []string{`destinations.out.compression: want lz4, gzip or none, got "zstd"`}},
		{"nested", `{"type": "clickhouse", "url": "http://h:8123", "table": "t", "nested": "json"}`, []string{`destinations.out.nested: want flatten or objects, got "json"`}},
		{"unknown field", `{"type": "clickhouse", "url": "http://h:8123", "table": "t", "user": "x"}`, []string{"destinations.out.user: unknown field"}},
		{"password not echoed", `{"type": "clickhouse", "url": "http://h:8123", "table": "t", "password": 5}`, []string{"destinations.out.password: want a string"}},
		{"batch", `{"type": "clickhouse", "url": "http://h:8123", "table": "t", "batch": {"count": -1}}`, []string{"destinations.out.batch.count: want 0 or more, got -1"}},
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
