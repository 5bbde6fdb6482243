package socket_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/socket"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/daemontest"
)

func registry() *daemon.Registry { return daemontest.Registry(socket.Register) }

func TestDefaults(t *testing.T) {
	const cfg = `{"sources": {"in": {"type": "test"}}, "destinations": {
		"out": {"type": "socket", "addr": "logs.example.com:514", "batch": {"count": 10}}}}`
	p, err := daemon.Load([]byte(cfg), registry())
	if err != nil {
		t.Fatal(err)
	}
	c, ok := p.Destinations[0].Config.(*socket.Config)
	if !ok {
		t.Fatalf("config is %T", p.Destinations[0].Config)
	}
	want := socket.DefaultConfig()
	want.Addr = "logs.example.com:514"
	want.Batch.Count = 10
	if *c != want {
		t.Errorf("got %+v, want %+v", *c, want)
	}
}

// TestConfigErrors: each bad field is reported at its path, with what
// was expected.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, dest string
		want       []string
	}{
		{"missing addr", `{"type": "socket"}`, []string{"destinations.out.addr: required"}},
		{"addr without port", `{"type": "socket", "addr": "logs.example.com"}`, []string{`destinations.out.addr: want host:port, got "logs.example.com"`}},
		{"addr without host", `{"type": "socket", "addr": ":514"}`, []string{`destinations.out.addr: want host:port, got ":514": no host`}},
		{"port out of range", `{"type": "socket", "addr": "h:70000"}`, []string{`destinations.out.addr: want host:port with a port from 1 to 65535, got "h:70000"`}},
		{"port not a number", `{"type": "socket", "addr": "h:syslog"}`, []string{`destinations.out.addr: want host:port with a port from 1 to 65535`}},
		{"network", `{"type": "socket", "addr": "h:514", "network": "udp"}`, []string{`destinations.out.network: want tcp, tcp4 or tcp6, got "udp"`}},
		{"framing", `{"type": "socket", "addr": "h:514", "framing": "crlf"}`, []string{`destinations.out.framing: want lf or octet, got "crlf"`}},
		{"format", `{"type": "socket", "addr": "h:514", "format": "ndjson"}`, []string{`destinations.out.format: want raw or json, got "ndjson"`}},
		{"jsonRaw", `{"type": "socket", "addr": "h:514", "format": "json", "jsonRaw": "never"}`, []string{`destinations.out.jsonRaw: want always or unparsed, got "never"`}},
		{"timeouts", `{"type": "socket", "addr": "h:514", "dialTimeout": "-1s", "writeTimeout": "-1s"}`,
			[]string{"destinations.out.dialTimeout: want 0 or more, got -1s", "destinations.out.writeTimeout: want 0 or more, got -1s"}},
		{"duration as number", `{"type": "socket", "addr": "h:514", "writeTimeout": 30}`, []string{"destinations.out.writeTimeout: want a duration string"}},
		{"half a key pair", `{"type": "socket", "addr": "h:514", "tls": {"certFile": "c.pem"}}`, []string{"destinations.out.tls.keyFile: required with tls.certFile"}},
		{"tls field", `{"type": "socket", "addr": "h:514", "tls": {"caFIle": "ca.pem"}}`, []string{`destinations.out.tls.caFIle: unknown field (did you mean "caFile"?)`}},
		{"batch", `{"type": "socket", "addr": "h:514", "batch": {"count": -1}}`, []string{"destinations.out.batch.count: want 0 or more, got -1"}},
		{"every problem", `{"type": "socket", "addr": "h", "framing": "x", "format": "y"}`,
			[]string{"destinations.out.addr: want host:port", "destinations.out.framing: want lf or octet", "destinations.out.format: want raw or json"}},
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
		})
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  socket.Config
		want string
	}{
		{"no addr", socket.Config{}, "socket: addr: required"},
		{"bad addr", socket.Config{Addr: "h"}, `socket: addr: want host:port, got "h"`},
		{"framing", socket.Config{Addr: "h:514", Framing: "crlf"}, `socket: framing: want lf or octet, got "crlf"`},
		{"format", socket.Config{Addr: "h:514", Format: "xml"}, `socket: format: want raw or json, got "xml"`},
		{"batch", socket.Config{Addr: "h:514", Batch: batch.Config{Age: -time.Second}}, "socket: batch.age: want 0 or more, got -1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := socket.New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
