package elasticsearch_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/elasticsearch"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/builtin"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/daemon/daemontest"
)

// TestDocsExample loads the example of docs/stores/elasticsearch.md.
func TestDocsExample(t *testing.T) {
	b, err := os.ReadFile("../../docs/stores/elasticsearch.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```hujson\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("no hujson block in docs/stores/elasticsearch.md")
	}
	lookup := func(name string) (string, bool) { return "a2V5aWQ6c2VjcmV0", name == "ES_API_KEY" }
	p, err := daemon.Load(m[1], builtin.Registry(), config.WithLookup(lookup))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range p.Destinations {
		c, ok := d.Config.(*elasticsearch.Config)
		if !ok {
			continue
		}
		if c.Index != "logs-app-%Y.%m.%d" || c.ID != "content" || c.OpType != "index" || c.APIKey.Reveal() != "a2V5aWQ6c2VjcmV0" ||
			c.Batch.Count != 2000 || c.Timeout != 60*time.Second {
			t.Errorf("config %+v", *c)
		}
		if _, err := elasticsearch.New(*c); err != nil {
			t.Error(err)
		}
		return
	}
	t.Error("no elasticsearch destination in the example")
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, dest string
		want       []string
	}{
		{"missing url", `{"type": "elasticsearch"}`, []string{"destinations.out.url: required"}},
		{"scheme", `{"type": "elasticsearch", "url": "ftp://u:s3cret@h"}`, []string{"destinations.out.url: want an http:// or https:// URL"}},
		{"query", `{"type": "elasticsearch", "url": "http://h:9200/?x=s3cret"}`, []string{"destinations.out.url: want a base URL"}},
		{"bulk url", `{"type": "elasticsearch", "url": "http://h:9200/_bulk"}`, []string{"destinations.out.url: want the base URL, without /_bulk"}},
		{"directive", `{"type": "elasticsearch", "url": "http://h", "index": "logs-%Y-%q"}`, []string{"destinations.out.index: unknown directive %q"}},
		{"upper case", `{"type": "elasticsearch", "url": "http://h", "index": "Logs"}`, []string{"destinations.out.index: an index name must be lower case"}},
		{"bad char", `{"type": "elasticsearch", "url": "http://h", "index": "a*b"}`, []string{`destinations.out.index: "*" may not be`}},
		{"leading", `{"type": "elasticsearch", "url": "http://h", "index": "_x"}`, []string{"destinations.out.index: an index name may not start"}},
		{"compression", `{"type": "elasticsearch", "url": "http://h", "compression": "br"}`, []string{`destinations.out.compression: want gzip or none, got "br"`}},
		{"jsonRaw", `{"type": "elasticsearch", "url": "http://h", "jsonRaw": "never"}`, []string{`destinations.out.jsonRaw: want always or unparsed, got "never"`}},
		{"opType", `{"type": "elasticsearch", "url": "http://h", "opType": "upsert"}`, []string{`destinations.out.opType: want index or create, got "upsert"`}},
		{"id", `{"type": "elasticsearch", "url": "http://h", "id": "hash"}`, []string{`destinations.out.id: want auto or content, got "hash"`}},
		{"both auths", `{"type": "elasticsearch", "url": "http://h", "username": "u", "password": "s3cret", "apiKey": "s3cret"}`, []string{"destinations.out.apiKey: set username/password or apiKey, not both"}},
		{"password alone", `{"type": "elasticsearch", "url": "http://h", "password": "s3cret"}`, []string{"destinations.out.username: required with password"}},
		{"bytes", `{"type": "elasticsearch", "url": "http://h", "batch": {"bytes": 104857600}}`, []string{"destinations.out.batch.bytes: at most 52428800"}},
		{"unknown", `{"type": "elasticsearch", "url": "http://h", "indexName": "x"}`, []string{"destinations.out.indexName: unknown field"}},
		{"timeout", `{"type": "elasticsearch", "url": "http://h", "timeout": 5}`, []string{"destinations.out.timeout: want a duration string"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := `{"sources": {"in": {"type": "test"}}, "destinations": {"out": ` + tc.dest + `}}`
			_, err := daemon.Load([]byte(cfg), daemontest.Registry(elasticsearch.Register))
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
