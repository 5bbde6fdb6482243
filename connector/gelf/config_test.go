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
	blocks := regexp.MustCompile("(?s)```hujson\n(.*?)```").FindAllSubmatch(b, -1)
	if len(blocks) != 2 {
		t.Fatalf("%d hujson blocks in docs/stores/gelf.md, want 2 (the example, TLS)", len(blocks))
	}
	n, withTLS := 0, 0
	for _, m := range blocks {
		p, err := daemon.Load(m[1], builtin.Registry())
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range p.Destinations {
			c, ok := d.Config.(*gelf.Config)
			if !ok {
				continue
			}
			n++
			if c.ServiceAddr == "" || c.Compression != "auto" || (c.Network == "udp") != (c.ChunkSize == 1420) {
				t.Errorf("config %+v", *c)
			}
			if c.TLS != nil && c.TLS.CAFile != "" {
				withTLS++
			}
			if _, err := gelf.New(*c); err != nil {
				t.Error(err)
			}
		}
	}
	if n != 3 || withTLS != 1 {
		t.Errorf("%d gelf destinations in the examples, %d with TLS; want 3, 1", n, withTLS)
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
		{"tls over udp", `{"type": "gelf", "serviceAddr": "h:12201", "tls": {}}`, `destinations.out.tls: only with network tcp, got "udp"`},
		{"tls half a key pair", `{"type": "gelf", "serviceAddr": "h:12201", "network": "tcp", "tls": {"certFile": "c.pem"}}`, "destinations.out.tls.keyFile: required with tls.certFile"},
		{"tls field", `{"type": "gelf", "serviceAddr": "h:12201", "network": "tcp", "tls": {"caFIle": "ca.pem"}}`, `destinations.out.tls.caFIle: unknown field`},
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
