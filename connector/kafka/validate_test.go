package kafka_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/daemon"
)

// TestValidateFieldPaths runs `sluiced validate` on a config file and
// checks its whole output: each required or bad field is named by its own
// path, one line per field, also when a required field is present but
// empty (which the decoder lets through to NewSource and NewDestination).
func TestValidateFieldPaths(t *testing.T) {
	for _, tc := range []struct {
		name, src, dst string
		want           []string
	}{
		{"empty brokers and topics", `{"type": "kafka", "brokers": [], "topics": []}`, okDest,
			[]string{"sources.in.brokers: required", "sources.in.topics: required"}},
		{"empty brokers and topic", `{"type": "test"}`, `{"type": "kafka", "brokers": [], "topic": ""}`,
			[]string{"destinations.out.brokers: required", "destinations.out.topic: required"}},
		{"empty sasl", `{"type": "test"}`, `{"type": "kafka", "brokers": ["k:1"], "topic": "t", "sasl": {"mechanism": "", "user": "", "password": ""}}`,
			[]string{"destinations.out.sasl.mechanism: required", "destinations.out.sasl.password: required", "destinations.out.sasl.user: required"}},
		{"sasl user empty", `{"type": "kafka", "brokers": ["k:1"], "topics": ["t"], "sasl": {"mechanism": "PLAIN", "user": "", "password": "hunter2"}}`, okDest,
			[]string{"sources.in.sasl.user: required"}},
		{"cert without key", `{"type": "kafka", "brokers": ["k:1"], "topics": ["t"], "tls": {"certFile": "c.pem"}}`, okDest,
			[]string{"sources.in.tls.keyFile: required with tls.certFile"}},
		{"key without cert", `{"type": "test"}`, `{"type": "kafka", "brokers": ["k:1"], "topic": "t", "tls": {"keyFile": "k.pem"}}`,
			[]string{"destinations.out.tls.certFile: required with tls.keyFile"}},
		{"empty topic name", `{"type": "kafka", "brokers": ["k:1"], "topics": ["t", ""]}`, okDest,
			[]string{`sources.in.topics[1]: want a topic name of 1 to 249 characters, not . or .., got ""`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := `{"sources": {"in": ` + tc.src + `}, "destinations": {"out": ` + tc.dst + `},
				"routes": [{"from": ["in"], "to": ["out"]}]}`
			file := filepath.Join(t.TempDir(), "sluiced.hujson")
			if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			if code := daemon.Main([]string{"validate", file}, &out, &errOut, registry()); code != 1 {
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
