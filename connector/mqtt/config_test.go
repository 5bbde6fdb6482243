package mqtt

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*SourceConfig)
		want string // in the error; "" for none
	}{
		{"defaults", func(*SourceConfig) {}, ""},
		{"mqtt scheme", func(c *SourceConfig) { c.Broker = "mqtt://h:1883" }, ""},
		{"ssl scheme", func(c *SourceConfig) { c.Broker = "ssl://h:8883" }, ""},
		{"ws scheme", func(c *SourceConfig) { c.Broker = "ws://h:80" }, "broker: want scheme tcp, mqtt, ssl, tls or mqtts"},
		{"no port", func(c *SourceConfig) { c.Broker = "tcp://h" }, "broker: want a URL with a port"},
		{"qos", func(c *SourceConfig) { c.QoS = 3 }, "qos: want 0, 1 or 2, got 3"},
		{"keepAlive", func(c *SourceConfig) { c.KeepAlive = 0 }, "keepAlive: want at least 1s"},
		{"password alone", func(c *SourceConfig) { c.Password = "p" }, "password: set without userName"},
		{"maxInflight", func(c *SourceConfig) { c.MaxInflight = 70000 }, "maxInflight: want 1 to 65535"},
		{"half a client cert", func(c *SourceConfig) { c.TLS = &TLSConfig{CertFile: "c.pem"} }, "tls: set both certFile and keyFile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultSourceConfig()
			c.Broker, c.Topic = "tcp://h:1883", "t"
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
	if got := redact("tcp://user:pw@h:1883"); got != "tcp://h:1883" {
		t.Errorf("redact = %q", got)
	}
}
