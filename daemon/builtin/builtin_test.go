package builtin_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/builtin"
)

// allTags leaves out every optional connector.
const allTags = "sluice_no_s3,sluice_no_webhook,sluice_no_httpsrc,sluice_no_journald,sluice_no_socket" +
	",sluice_no_kafka,sluice_no_mqtt,sluice_no_nats,sluice_no_clickhouse,sluice_no_loki" +
	",sluice_no_elasticsearch,sluice_no_splunk,sluice_no_gelf,sluice_no_otlp,sluice_no_wasm"

func TestEveryConnectorByDefault(t *testing.T) {
	r := builtin.Registry()
	for _, tc := range []struct {
		kind  daemon.Kind
		types []string
	}{
		{daemon.KindSource, []string{"file", "http", "journald", "kafka", "mqtt", "nats", "scanner", "syslog"}},
		{daemon.KindDestination, []string{"file", "http", "kafka", "mqtt", "nats", "printer", "runreveal", "s3", "socket"}},
		{daemon.KindDestination, []string{"clickhouse", "loki"}},
		{daemon.KindDestination, []string{"elasticsearch", "gelf", "splunk_hec"}},
		{daemon.KindSource, []string{"otlp"}},
		{daemon.KindDestination, []string{"otlp"}},
		{daemon.KindHandler, []string{"wasm"}},
	} {
		for _, typ := range tc.types {
			if _, _, ok := r.Defaults(tc.kind, typ); !ok {
				t.Errorf("%s type %q missing from the default build", tc.kind, typ)
			}
		}
	}
}

// A build with every tag compiles, is smaller, runs the default pipeline's
// config, and names the tag when a config uses a left-out type.
func TestBuildTagsLeaveConnectorsOut(t *testing.T) {
	if testing.Short() {
		t.Skip("builds sluiced twice")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	dir := t.TempDir()
	build := func(name, tags string) string {
		bin := filepath.Join(dir, name)
		cmd := exec.Command(goTool, "build", "-tags", tags, "-o", bin, "github.com/sluicehq/sluice/cmd/sluiced")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build -tags %q: %v\n%s", tags, err, out)
		}
		return bin
	}
	full, small := build("full", ""), build("small", allTags)
	fs, _ := os.Stat(full)
	ss, _ := os.Stat(small)
	if ss.Size() >= fs.Size() {
		t.Errorf("with every tag the binary is %d bytes, without %d: nothing left out", ss.Size(), fs.Size())
	}
	t.Logf("sluiced: %d bytes; with -tags %s: %d bytes", fs.Size(), allTags, ss.Size())

	write := func(name, cfg string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	syslogFile := write("ok.hujson", `{"sources": {"in": {"type": "syslog"}}, "destinations": {"out": {"type": "file", "path": "x.ndjson"}}}`)
	if out, err := exec.Command(small, "validate", "--config", syslogFile).CombinedOutput(); err != nil {
		t.Errorf("the small build rejects syslog → file: %v\n%s", err, out)
	}
	for _, tc := range []struct{ cfg, want string }{
		{`{"sources": {"in": {"type": "syslog"}}, "destinations": {"out": {"type": "s3", "bucket": "b"}}}`,
			`destinations.out.type: destination type "s3" is not in this build of sluiced (built with -tags sluice_no_s3)`},
		{`{"sources": {"in": {"type": "http"}}, "destinations": {"out": {"type": "file", "path": "x"}}}`,
			`sources.in.type: source type "http" is not in this build of sluiced (built with -tags sluice_no_httpsrc)`},
		{`{"sources": {"in": {"type": "syslog"}}, "destinations": {"out": {"type": "runreveal", "url": "https://x"}}}`,
			`destinations.out.type: destination type "runreveal" is not in this build of sluiced (built with -tags sluice_no_webhook)`},
		{`{"sources": {"in": {"type": "kafka", "brokers": ["k:9092"], "topics": ["t"]}}, "destinations": {"out": {"type": "file", "path": "x"}}}`,
			`sources.in.type: source type "kafka" is not in this build of sluiced (built with -tags sluice_no_kafka)`},
		{`{"sources": {"in": {"type": "mqtt", "broker": "tcp://h:1883", "topic": "t"}}, "destinations": {"out": {"type": "file", "path": "x"}}}`,
			`sources.in.type: source type "mqtt" is not in this build of sluiced (built with -tags sluice_no_mqtt)`},
		{`{"sources": {"in": {"type": "syslog"}}, "destinations": {"out": {"type": "nats", "url": "nats://h:4222", "subject": "o"}}}`,
			`destinations.out.type: destination type "nats" is not in this build of sluiced (built with -tags sluice_no_nats)`},
		{`{"sources": {"in": {"type": "syslog"}}, "destinations": {"out": {"type": "clickhouse", "url": "http://x:8123", "table": "t"}}}`,
			`destinations.out.type: destination type "clickhouse" is not in this build of sluiced (built with -tags sluice_no_clickhouse)`},
		{`{"sources": {"in": {"type": "syslog"}}, "destinations": {"out": {"type": "loki", "url": "http://x:3100"}}}`,
			`destinations.out.type: destination type "loki" is not in this build of sluiced (built with -tags sluice_no_loki)`},
		{`{"sources": {"in": {"type": "otlp", "grpcAddr": "127.0.0.1:4317"}}, "destinations": {"out": {"type": "file", "path": "x"}}}`,
			`sources.in.type: source type "otlp" is not in this build of sluiced (built with -tags sluice_no_otlp)`},
		{`{"sources": {"in": {"type": "syslog"}}, "destinations": {"out": {"type": "file", "path": "x"}}, "routes": [{"from": ["in"], "to": ["out"], "handlers": [{"type": "wasm", "module": "x.wasm"}]}]}`,
			`routes[0].handlers[0].type: handler type "wasm" is not in this build of sluiced (built with -tags sluice_no_wasm)`},
	} {
		p := write("left-out.hujson", tc.cfg)
		out, err := exec.Command(small, "validate", "--config", p).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("validate %s: %v\n%s\nwant %q", tc.cfg, err, out, tc.want)
		}
		if out, err := exec.Command(full, "validate", "--config", p).CombinedOutput(); strings.Contains(string(out), "not in this build") {
			t.Errorf("the full build says %v: %s", err, out)
		}
	}
}

// Every source bounds its events, so that validate can check the disk
// buffers behind it (see daemon.EventLimiter), with a default bound.
func TestEverySourceBoundsItsEvents(t *testing.T) {
	r := builtin.Registry()
	for _, typ := range r.Types(daemon.KindSource) {
		c, _, _ := r.Defaults(daemon.KindSource, typ)
		l, ok := c.(daemon.EventLimiter)
		if !ok {
			t.Errorf("source %q: its config %T is no daemon.EventLimiter", typ, c)
			continue
		}
		if n, field := l.RecordLimit(); n <= 0 || field == "" {
			t.Errorf("source %q: RecordLimit() = %d, %q; want a default bound and its field", typ, n, field)
		}
	}
}
