package gelf_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connector/gelf"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/builtin"
	"github.com/sluicehq/sluice/daemon/daemontest"
)

// TestDocsExample loads the example of docs/stores/gelf.md.
func TestDocsExample(t *testing.T) {
	b, err := os.ReadFile("../../docs/stores/gelf.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```hujson\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("no hujson block in docs/stores/gelf.md")
	}
	p, err := daemon.Load(m[1], builtin.Registry())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range p.Destinations {
		c, ok := d.Config.(*gelf.Config)
		if !ok {
			continue
		}
		n++
		if c.ServiceAddr == "" || c.Compression != "auto" || (c.Network == "udp") != (c.ChunkSize == 1420) {
			t.Errorf("config %+v", *c)
		}
		if _, err := gelf.New(*c); err != nil {
			t.Error(err)
		}
	}
	if n != 2 {
		t.Errorf("%d gelf destinations in the example, want 2", n)
	}
}

// TestKawaConfigLoads loads the destination as kawa's example writes it.
func TestKawaConfigLoads(t *testing.T) {
	cfg := `{"sources": {"in": {"type": "test"}}, "destinations": {"out": {"type": "gelf", "serviceAddr": "localhost:12201", "network": "udp"}}}`
	p, err := daemon.Load([]byte(cfg), daemontest.Registry(gelf.Register))
	if err != nil {
		t.Fatal(err)
	}
	c := p.Destinations[0].Config.(*gelf.Config)
	if c.ServiceAddr != "localhost:12201" || c.Network != "udp" || c.ChunkSize != 8192 || c.Batch.Parallelism != 1 {
		t.Errorf("config %+v", *c)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, dest string
		want       string
	}{
		{"missing", `{"type": "gelf"}`, "destinations.out.serviceAddr: required"},
		{"addr", `{"type": "gelf", "serviceAddr": "graylog"}`, `destinations.out.serviceAddr: want host:port, got "graylog"`},
		{"network", `{"type": "gelf", "serviceAddr": "h:12201", "network": "http"}`, `destinations.out.network: want udp or tcp, got "http"`},
		{"compression", `{"type": "gelf", "serviceAddr": "h:12201", "compression": "zstd"}`, `destinations.out.compression: want auto, gzip, zlib or none, got "zstd"`},
		{"chunkSize", `{"type": "gelf", "serviceAddr": "h:12201", "chunkSize": 100}`, "destinations.out.chunkSize: want 512 to 65467, got 100"},
		{"unknown", `{"type": "gelf", "serviceAddr": "h:12201", "addr": "h:1"}`, "destinations.out.addr: unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := `{"sources": {"in": {"type": "test"}}, "destinations": {"out": ` + tc.dest + `}}`
			_, err := daemon.Load([]byte(cfg), daemontest.Registry(gelf.Register))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}
