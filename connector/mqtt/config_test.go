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
		{"half a client cert", func(c *SourceConfig) { c.TLS = &TLSConfig{CertFile: "c.pem"} }, "tls.keyFile: required with tls.certFile"},
		{"filter", func(c *SourceConfig) { c.Topic = "devices/+/log" }, ""},
		{"filter #", func(c *SourceConfig) { c.Topic = "#" }, ""},
		{"filter # inside", func(c *SourceConfig) { c.Topic = "logs/#/app" }, "topic: want a topic filter whose + fills a level"},
		{"filter part +", func(c *SourceConfig) { c.Topic = "logs/a+" }, "topic: want a topic filter whose + fills a level"},
		{"filter NUL", func(c *SourceConfig) { c.Topic = "a\x00b" }, "topic: want UTF-8 text without NUL"},
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

// A destination's topic is a topic name: mosquitto closes the connection
// of a client that publishes to a wildcard, and paho then resent the
// publish for ever.
func TestValidateDestinationTopic(t *testing.T) {
	for _, tc := range []struct{ topic, want string }{
		{"fleet/logs", ""},
		{"fleet/+/x", "topic: want a topic without the wildcards + and #"},
		{"fleet/#", "topic: want a topic without the wildcards + and #"},
	} {
		c := DefaultDestinationConfig()
		c.Broker, c.Topic = "tcp://h:1883", tc.topic
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("topic %q: Validate = %v, want nil", tc.topic, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("topic %q: Validate = %v, want %q", tc.topic, err, tc.want)
		}
	}
}

// A broker URL that is refused is quoted in the error without the user
// name and password it carries: paho logs in with them.
func TestValidateHidesURLCredentials(t *testing.T) {
	for _, u := range []string{"tcp://bridge:Mq77Secret@127.0.0.1", "bridge:Mq77Secret@127.0.0.1:1883", "tcp://u:Mq77Secret@[::1"} {
		c := DefaultSourceConfig()
		c.Broker, c.Topic = u, "t"
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "broker: ") {
			t.Errorf("Validate(broker %q) = %v, want an error about broker", u, err)
			continue
		}
		if strings.Contains(err.Error(), "Mq77Secret") {
			t.Errorf("Validate(broker %q) = %v: shows the password", u, err)
		}
	}
}
