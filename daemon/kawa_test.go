package daemon_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/mqtt"
	"github.com/sluicehq/sluice/connector/s3"
	"github.com/sluicehq/sluice/connector/syslog"
	"github.com/sluicehq/sluice/connector/webhook"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/builtin"
)

func names(cs []daemon.Component) []string {
	var n []string
	for _, c := range cs {
		n = append(n, c.Name+":"+c.Type)
	}
	return n
}

// kawa's documented example configs (testdata/kawa, each naming where it
// comes from) load as they were published, every source and destination
// under a generated name, with kawa's values in sluice's fields.
func TestKawaExamplesLoad(t *testing.T) {
	for _, tc := range []struct {
		file         string
		sources      []string
		destinations []string
		check        func(t *testing.T, p *daemon.Plan)
	}{
		{"examples-config.json", []string{"journald-0:journald", "syslog-0:syslog"}, []string{"runreveal-0:runreveal"},
			func(t *testing.T, p *daemon.Plan) {
				c := p.Sources[1].Config.(*syslog.Config)
				if c.Addr != "0.0.0.0:5514" || c.ContentType != "application/json; rrschema=nginx-json" {
					t.Errorf("syslog config %+v", c)
				}
				r := p.Destinations[0].Config.(*webhook.RunRevealConfig)
				if r.WebhookURL.Reveal() != "https://example.runreveal.com/sources/kawa/webhook/0123456789" || r.BatchSize != 100 {
					t.Errorf("runreveal config %+v", r)
				}
			}},
		{"examples-mqtt_config.json", []string{"mqtt-0:mqtt"}, []string{"mqtt-0:mqtt", "printer-0:printer"},
			func(t *testing.T, p *daemon.Plan) {
				s := p.Sources[0].Config.(*mqtt.SourceConfig)
				if s.Broker != "mqtt://broker.mqtt:1883" || s.ClientID != "kawa_src" || s.Topic != "iot/#" || s.QoS != 1 {
					t.Errorf("mqtt source config %+v", s)
				}
				d := p.Destinations[0].Config.(*mqtt.DestinationConfig)
				if d.ClientID != "kawa_dst" || d.Topic != "kawa/dest" || d.QoS != 1 || d.Retained || d.Batch.Count != 100 {
					t.Errorf("mqtt destination config %+v", d)
				}
			}},
		{"readme-getting-started.json", []string{"syslog-0:syslog"}, []string{"s3-0:s3"},
			func(t *testing.T, p *daemon.Plan) {
				c := p.Destinations[0].Config.(*s3.Config)
				if c.BucketName != "{{YOUR-S3-BUCKET-NAME}}" || c.BucketRegion != "us-east-2" {
					t.Errorf("s3 config %+v", c)
				}
			}},
		{"readme-sections.json", []string{"journald-0:journald", "scanner-0:scanner", "syslog-0:syslog"},
			[]string{"printer-0:printer", "runreveal-0:runreveal", "s3-0:s3"},
			func(t *testing.T, p *daemon.Plan) {
				if c := p.Destinations[2].Config.(*s3.Config); c.BatchSize != 1000 {
					t.Errorf("s3 batchSize %d, want 1000", c.BatchSize)
				}
			}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/kawa", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			p, err := daemon.Load(data, builtin.Registry())
			if err != nil {
				t.Fatal(err)
			}
			if got := names(p.Sources); !slices.Equal(got, tc.sources) {
				t.Errorf("sources %v, want %v", got, tc.sources)
			}
			if got := names(p.Destinations); !slices.Equal(got, tc.destinations) {
				t.Errorf("destinations %v, want %v", got, tc.destinations)
			}
			// kawa had no routes: every source goes to every destination.
			if len(p.Routes) != 1 || len(p.Routes[0].From) != len(tc.sources) || len(p.Routes[0].To) != len(tc.destinations) {
				t.Errorf("routes %+v", p.Routes)
			}
			tc.check(t, p)
		})
	}
}

// kawa's fields that sluice names otherwise, or reads otherwise, become
// sluice's; what cannot be mapped fails at start with kawa's path.
func TestKawaFields(t *testing.T) {
	t.Setenv("KAWA_SECRET", "s3cr3t-value")
	const srcs = `"sources": [{"type": "syslog", "addr": "127.0.0.1:0"}, {"type": "syslog", "addr": "127.0.0.1:1"}]`
	load := func(t *testing.T, rest string) (*daemon.Plan, error) {
		return daemon.Load([]byte("{"+srcs+", "+rest+"}"), builtin.Registry())
	}
	t.Run("flushFreq in nanoseconds, secretAccessKey, pprof", func(t *testing.T) {
		p, err := load(t, `"pprof": "127.0.0.1:6060", "destinations": [
			{"type": "runreveal", "webhookURL": "https://h.example/x", "batchSize": 7, "flushFreq": 5000000000},
			{"type": "runreveal", "webhookURL": "https://h.example/y", "flushFreq": "1m"},
			{"type": "s3", "bucketName": "b", "accessKeyID": "AK", "secretAccessKey": "$KAWA_SECRET"}]`)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(p.Sources); !slices.Equal(got, []string{"syslog-0:syslog", "syslog-1:syslog"}) {
			t.Errorf("sources %v", got)
		}
		if c := p.Sources[1].Config.(*syslog.Config); c.Addr != "127.0.0.1:1" {
			t.Errorf("syslog-1 has addr %q: the names do not follow the array's order", c.Addr)
		}
		r0 := p.Destinations[0].Config.(*webhook.RunRevealConfig)
		r1 := p.Destinations[1].Config.(*webhook.RunRevealConfig)
		if r0.BatchSize != 7 || r0.FlushFreq != 5*time.Second || r1.FlushFreq != time.Minute {
			t.Errorf("runreveal configs %+v %+v", r0, r1)
		}
		if c := p.Destinations[2].Config.(*s3.Config); c.AccessSecretKey.Reveal() != "s3cr3t-value" {
			t.Errorf("s3 secret not mapped")
		}
		if a := p.File.Admin; a == nil || a.Addr != "127.0.0.1:6060" || !a.Pprof {
			t.Errorf("admin %+v, want pprof on 127.0.0.1:6060", a)
		}
	})
	t.Run("monitoring", func(t *testing.T) {
		p, err := load(t, `"monitoring": {"addr": ":9100", "metrics": {"path": "/metrics"}}, "destinations": [{"type": "printer"}]`)
		if err != nil {
			t.Fatal(err)
		}
		if a := p.File.Admin; a == nil || a.Addr != ":9100" || a.Pprof {
			t.Errorf("admin %+v, want :9100 without pprof", a)
		}
	})
	for _, tc := range []struct{ name, rest, want string }{
		{"unknown kawa type", `"destinations": [{"type": "sqs"}]`, `destinations.sqs-0.type: unknown destination type "sqs"`},
		{"no type", `"destinations": [{"webhookURL": "https://h/x"}]`, `destinations[0].type: required`},
		{"not an object", `"destinations": [3]`, `destinations[0]: want an object, got a number`},
		{"bad field of the second", `"destinations": [{"type": "printer"}, {"type": "printer", "colour": 1}]`, `destinations.printer-1.colour: unknown field`},
		{"bad duration", `"destinations": [{"type": "runreveal", "webhookURL": "https://h/x", "flushFreq": 1.5}]`, `destinations.runreveal-0.flushFreq: want a duration: a string like "15s" or kawa's integer of nanoseconds, got 1.5`},
		{"metrics elsewhere", `"monitoring": {"addr": ":1", "metrics": {"path": "/m"}}, "destinations": [{"type": "printer"}]`, `monitoring.metrics.path: sluiced serves metrics at /metrics only, got "/m"`},
		{"both admins", `"pprof": ":1", "admin": {}, "destinations": [{"type": "printer"}]`, `pprof: set admin or kawa's pprof, not both`},
		{"secret in an error", `"destinations": [{"type": "s3", "bucketName": "b", "secretAccessKey": 5}]`, `destinations.s3-0.accessSecretKey: want a string, got a number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.rest)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
