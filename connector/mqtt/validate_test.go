package mqtt_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connector/mqtt"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/daemontest"
)

// TestValidateFieldPaths runs `sluiced validate` on a config file and
// checks its whole output: each required or bad field is named by its own
// path, one line per field, also when a required field is present but
// empty (which the decoder lets through to NewSource and NewDestination).
func TestValidateFieldPaths(t *testing.T) {
	const okSrc, okDst = `{"type": "mqtt", "broker": "tcp://h:1883", "topic": "in/#"}`, `{"type": "mqtt", "broker": "tcp://h:1883", "topic": "out"}`
	for _, tc := range []struct {
		name, src, dst string
		want           []string
	}{
		{"missing", `{"type": "mqtt"}`, `{"type": "mqtt"}`,
			[]string{"sources.in.broker: required", "sources.in.topic: required", "destinations.out.broker: required", "destinations.out.topic: required"}},
		{"empty", `{"type": "mqtt", "broker": "", "topic": ""}`, `{"type": "mqtt", "broker": "", "topic": ""}`,
			[]string{"sources.in.broker: required", "sources.in.topic: required", "destinations.out.broker: required", "destinations.out.topic: required"}},
		{"empty topic", okSrc, `{"type": "mqtt", "broker": "tcp://h:1883", "topic": ""}`, []string{"destinations.out.topic: required"}},
		{"cert without key", `{"type": "mqtt", "broker": "ssl://h:8883", "topic": "t", "tls": {"certFile": "c.pem"}}`, okDst,
			[]string{"sources.in.tls.keyFile: required with tls.certFile"}},
		{"key without cert", okSrc, `{"type": "mqtt", "broker": "ssl://h:8883", "topic": "t", "tls": {"keyFile": "k.pem"}}`,
			[]string{"destinations.out.tls.certFile: required with tls.keyFile"}},
		{"tls on a plain broker", `{"type": "mqtt", "broker": "tcp://u:hunter2@h:1883", "topic": "t", "tls": {}}`, okDst,
			[]string{"sources.in.tls: set, but broker tcp://h:1883 is not ssl://, tls:// or mqtts://"}},
		{"tls file missing", okSrc, `{"type": "mqtt", "broker": "ssl://h:8883", "topic": "t", "tls": {"caFile": "/nonexistent/ca.pem"}}`,
			[]string{"destinations.out.tls: open /nonexistent/ca.pem: no such file or directory"}},
		{"wildcard destination", okSrc, `{"type": "mqtt", "broker": "tcp://h:1883", "topic": "out/+"}`,
			[]string{`destinations.out.topic: want a topic without the wildcards + and # (a publish goes to one topic), got "out/+"`}},
		{"password alone", `{"type": "mqtt", "broker": "tcp://h:1883", "topic": "t", "password": "hunter2"}`, okDst,
			[]string{"sources.in.password: set without userName"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := `{"sources": {"in": ` + tc.src + `}, "destinations": {"out": ` + tc.dst + `},
				"routes": [{"from": ["in"], "to": ["out"]}]}`
			file := filepath.Join(t.TempDir(), "sluiced.hujson")
			if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			if code := daemon.Main([]string{"validate", file}, &out, &errOut, daemontest.Registry(mqtt.Register)); code != 1 {
				t.Fatalf("validate exit %d, want 1; stderr:\n%s", code, errOut.String())
			}
			var want strings.Builder
			for _, w := range tc.want {
				want.WriteString("sluiced: " + w + "\n")
			}
			if errOut.String() != want.String() {
				t.Errorf("stderr:\n%s\nwant:\n%s", errOut.String(), want.String())
			}
			if strings.Contains(errOut.String(), "hunter2") {
				t.Errorf("the output shows the password")
			}
		})
	}
}
