package kafka_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connector/kafka"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/daemontest"
)

func registry() *daemon.Registry { return daemontest.Registry(kafka.Register) }

const okDest = `{"type": "kafka", "brokers": ["k:9092"], "topic": "out"}`

func TestDefaults(t *testing.T) {
	cfg := `{"sources": {"in": {"type": "kafka", "brokers": ["k1:9092", "k2:9092"], "topics": ["logs"]}}, "destinations": {"out": ` + okDest + `}}`
	p, err := daemon.Load([]byte(cfg), registry())
	if err != nil {
		t.Fatal(err)
	}
	src, ok := p.Sources[0].Config.(*kafka.SourceConfig)
	if !ok {
		t.Fatalf("source config is %T", p.Sources[0].Config)
	}
	want := kafka.DefaultSourceConfig()
	want.Brokers, want.Topics = []string{"k1:9092", "k2:9092"}, []string{"logs"}
	if !reflect.DeepEqual(*src, want) {
		t.Errorf("source: got %+v, want %+v", *src, want)
	}
	dst := p.Destinations[0].Config.(*kafka.DestinationConfig)
	wantD := kafka.DefaultDestinationConfig()
	wantD.Brokers, wantD.Topic = []string{"k:9092"}, "out"
	if !reflect.DeepEqual(*dst, wantD) {
		t.Errorf("destination: got %+v, want %+v", *dst, wantD)
	}
	if wantD.Acks != "all" || want.Group != "sluiced" || want.StartAt != "beginning" {
		t.Errorf("documented defaults changed: %+v %+v", want, wantD)
	}
}

// TestConfigErrors: each bad field is reported at its path, with what was
// expected; a password never shows.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, dst string
		want           []string
	}{
		{"missing", `{"type": "kafka"}`, `{"type": "kafka"}`, []string{"sources.in.brokers: required", "sources.in.topics: required",
			"destinations.out.brokers: required", "destinations.out.topic: required"}},
		{"broker", `{"type": "kafka", "brokers": ["k"], "topics": ["t"]}`, okDest, []string{`sources.in.brokers[0]: want host:port, got "k"`}},
		{"port", `{"type": "kafka", "brokers": ["k:99999"], "topics": ["t"]}`, okDest, []string{`sources.in.brokers[0]: want host:port with a port from 1 to 65535`}},
		{"topic", `{"type": "kafka", "brokers": ["k:1"], "topics": ["ok", "no/slash"]}`, okDest, []string{`sources.in.topics[1]: want a topic name of letters, digits`}},
		{"startAt", `{"type": "kafka", "brokers": ["k:1"], "topics": ["t"], "startAt": "latest"}`, okDest, []string{`sources.in.startAt: want beginning or end, got "latest"`}},
		{"durations", `{"type": "kafka", "brokers": ["k:1"], "topics": ["t"], "sessionTimeout": "-1s", "commitInterval": "-1s"}`, okDest,
			[]string{"sources.in.sessionTimeout: want 0 or more, got -1s", "sources.in.commitInterval: want 0 or more, got -1s"}},
		{"maxPending", `{"type": "kafka", "brokers": ["k:1"], "topics": ["t"], "maxPending": -1}`, okDest, []string{"sources.in.maxPending: want 0 or more, got -1"}},
		{"acks", `{"type": "test"}`, `{"type": "kafka", "brokers": ["k:1"], "topic": "t", "acks": "1"}`, []string{`destinations.out.acks: want all, leader or none, got "1"`}},
		{"compression", `{"type": "test"}`, `{"type": "kafka", "brokers": ["k:1"], "topic": "t", "compression": "brotli"}`,
			[]string{`destinations.out.compression: want zstd, lz4, snappy, gzip or none, got "brotli"`}},
		{"key", `{"type": "test"}`, `{"type": "kafka", "brokers": ["k:1"], "topic": "t", "key": "hostname"}`,
			[]string{`destinations.out.key: want host, source, sourceType, contentType, syslog.hostname`}},
		{"format", `{"type": "test"}`, `{"type": "kafka", "brokers": ["k:1"], "topic": "t", "format": "xml"}`, []string{`destinations.out.format: want raw or json, got "xml"`}},
		{"maxMessageBytes", `{"type": "test"}`, `{"type": "kafka", "brokers": ["k:1"], "topic": "t", "maxMessageBytes": -5}`,
			[]string{`destinations.out.maxMessageBytes: want 1 to 1073741824, got -5`}},
		{"sasl mechanism", `{"type": "test"}`, `{"type": "kafka", "brokers": ["k:1"], "topic": "t", "sasl": {"mechanism": "GSSAPI", "user": "u", "password": "hunter2"}}`,
			[]string{`destinations.out.sasl.mechanism: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got "GSSAPI"`}},
		{"sasl missing", `{"type": "kafka", "brokers": ["k:1"], "topics": ["t"], "sasl": {"mechanism": "PLAIN"}}`, okDest,
			[]string{"sources.in.sasl.user: required", "sources.in.sasl.password: required"}},
		{"tls", `{"type": "kafka", "brokers": ["k:1"], "topics": ["t"], "tls": {"certFile": "c.pem"}}`, okDest, []string{"sources.in.tls.keyFile: required with tls.certFile"}},
		{"unknown field", `{"type": "kafka", "brokers": ["k:1"], "topics": ["t"], "startat": "end"}`, okDest, []string{`sources.in.startat: unknown field (did you mean "startAt"?)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := `{"sources": {"in": ` + tc.src + `}, "destinations": {"out": ` + tc.dst + `}}`
			_, err := daemon.Load([]byte(cfg), registry())
			if err == nil {
				t.Fatal("Load = nil, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %v, want %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := kafka.NewSource(kafka.SourceConfig{}); err == nil || !strings.Contains(err.Error(), "kafka source: brokers: required") {
		t.Errorf("NewSource(zero) = %v", err)
	}
	if _, err := kafka.NewDestination(kafka.DestinationConfig{Brokers: []string{"k:1"}}); err == nil || !strings.Contains(err.Error(), "kafka destination: topic: required") {
		t.Errorf("NewDestination(no topic) = %v", err)
	}
	_, err := kafka.NewDestination(kafka.DestinationConfig{Brokers: []string{"k:1"}, Topic: "t", SASL: &kafka.SASLConfig{Mechanism: "PLAIN", User: "u"}})
	if err == nil || !strings.Contains(err.Error(), "kafka destination: sasl.password: required") {
		t.Errorf("NewDestination(no password) = %v", err)
	}
	_, err = kafka.NewSource(kafka.SourceConfig{Brokers: []string{"k:1"}, Topics: []string{"t"}, StartAt: "now"})
	if err == nil || !strings.Contains(err.Error(), `kafka source: startAt: want beginning or end, got "now"`) {
		t.Errorf("NewSource(startAt now) = %v", err)
	}
}
