package mqtt

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
)

// SourceConfig configures the "mqtt" source, made by [NewSource]. Its
// field names are those of kawa's daemon, so its configs carry over.
type SourceConfig struct {
	// Broker is the broker's URL: tcp://host:1883 or mqtt://host:1883
	// (plain), ssl://host:8883 (TLS; also tls://, mqtts://). Required.
	Broker string `json:"broker" sluice:"required"`
	// ClientID names the session at the broker. The session is persistent
	// (clean session off): what is published while sluiced is down waits
	// at the broker for this client id, so it must stay the same across
	// restarts and be used by no other client. Default "": sluiced-HOST-NAME,
	// from the host name and the source's name in the config.
	ClientID string `json:"clientID"`
	// Topic is the topic filter to subscribe to, such as "logs/#" or
	// "devices/+/log" (a + fills a level, a # the last one). Required.
	Topic string `json:"topic" sluice:"required"`
	// QoS is the subscription's quality of service: 1 (at least once) or
	// 2 (exactly once between broker and sluiced); 0 (at most once) loses
	// what the broker sent and sluiced had not delivered at a crash.
	// Default 1.
	QoS int `json:"qos"`
	// UserName and Password authenticate to the broker. Default "": none.
	UserName string `json:"userName"`
	// Password: see UserName. Never logged.
	Password config.Secret `json:"password"`
	// KeepAlive is the MQTT keep-alive interval: a broker that answers no
	// ping within it is taken as gone, and sluiced reconnects. Default 30s.
	KeepAlive time.Duration `json:"keepAlive"`
	// ConnectTimeout bounds one connection attempt. Default 10s.
	ConnectTimeout time.Duration `json:"connectTimeout"`
	// TLS sets the files and checks of an ssl:// connection. Default: the
	// system's roots, no client certificate.
	TLS *TLSConfig `json:"tls"`
	// MaxInflight is how many messages sluiced holds received and not yet
	// acknowledged to the broker. When it is reached, sluiced stops
	// reading from the connection until the destination acks. Set the
	// broker's own limit (mosquitto's max_inflight_messages) no higher,
	// so the broker never sends more: see the package docs. Default 1000.
	MaxInflight int `json:"maxInflight"`
	// MaxMessageBytes is the largest payload taken. A larger message is
	// not passed on: it is acknowledged to the broker, counted (dropped,
	// cause "oversize") and logged. Default 1048576 (1 MiB).
	MaxMessageBytes int `json:"maxMessageBytes"`
}

// DestinationConfig configures the "mqtt" destination, made by
// [NewDestination].
type DestinationConfig struct {
	// Broker is the broker's URL: tcp://host:1883 or mqtt://host:1883
	// (plain), ssl://host:8883 (TLS; also tls://, mqtts://). Required.
	Broker string `json:"broker" sluice:"required"`
	// ClientID names the connection at the broker; no other client may
	// use it. Default "": sluiced-HOST-NAME-out, from the host name and
	// the destination's name in the config.
	ClientID string `json:"clientID"`
	// Topic is the topic every event is published to: a topic name, with
	// no wildcard (+ or #). Required.
	Topic string `json:"topic" sluice:"required"`
	// QoS of the publishes: 1 (acked on the broker's PUBACK) or 2 (on
	// PUBCOMP); 0 acks once the publish is written to the connection and
	// may lose it. Default 1.
	QoS int `json:"qos"`
	// Retained sets the retain flag of every publish. Default false.
	Retained bool `json:"retained"`
	// UserName and Password authenticate to the broker. Default "": none.
	UserName string `json:"userName"`
	// Password: see UserName. Never logged.
	Password config.Secret `json:"password"`
	// KeepAlive is the MQTT keep-alive interval. Default 30s.
	KeepAlive time.Duration `json:"keepAlive"`
	// ConnectTimeout bounds one connection attempt. Default 10s.
	ConnectTimeout time.Duration `json:"connectTimeout"`
	// TLS sets the files and checks of an ssl:// connection. Default: the
	// system's roots, no client certificate.
	TLS *TLSConfig `json:"tls"`
	// Format is "raw" (each event's original bytes are the payload) or
	// "json" (one JSON object per event). Default "raw".
	Format string `json:"format"`
	// JSONRaw says which events keep their original bytes in format json:
	// "always" (default) or "unparsed".
	JSONRaw string `json:"jsonRaw"`
	// AckTimeout is how long a batch waits for the broker to acknowledge
	// its publishes; past it the batch is published again (the broker
	// may then hold some of its messages twice). Default 30s.
	AckTimeout time.Duration `json:"ackTimeout"`
	// MaxMessageBytes is the largest payload published; set it to the
	// broker's limit (mosquitto's message_size_limit; MQTT's own is 256
	// MiB). A larger event goes to the dead letter, or, without one, is
	// counted (dropped, cause "oversize"), logged and acked. Default
	// 1048576 (1 MiB).
	MaxMessageBytes int `json:"maxMessageBytes"`
	// Batch sets how events are grouped: each batch is published with
	// its messages in flight together and acked when the broker has
	// acknowledged every one; a failed batch is retried whole
	// (batch.retry; maxAttempts 0, the default, retries without limit).
	// Defaults: eager, count 1000, age 100ms, parallelism 1 (in order),
	// stopTimeout 5s.
	Batch batch.Config `json:"batch"`
}

// TLSConfig configures the client side of TLS.
type TLSConfig struct {
	// CAFile is a PEM file of certificates that replace the system's
	// roots for verifying the broker. Default "": the system's roots.
	CAFile string `json:"caFile"`
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// mutual TLS; set both or neither. Default "": none.
	CertFile string `json:"certFile"`
	// KeyFile: see CertFile.
	KeyFile string `json:"keyFile"`
	// InsecureSkipVerify turns off verification of the broker's
	// certificate. For tests only. Default false.
	InsecureSkipVerify bool `json:"insecureSkipVerify"`
}

// Defaults.
const (
	DefaultKeepAlive       = 30 * time.Second
	DefaultConnectTimeout  = 10 * time.Second
	DefaultMaxInflight     = 1000
	DefaultMaxMessageBytes = 1 << 20
)

// DefaultSourceConfig returns a SourceConfig with every default set.
func DefaultSourceConfig() SourceConfig {
	return SourceConfig{QoS: 1, KeepAlive: DefaultKeepAlive, ConnectTimeout: DefaultConnectTimeout,
		MaxInflight: DefaultMaxInflight, MaxMessageBytes: DefaultMaxMessageBytes}
}

// DefaultDestinationConfig returns a DestinationConfig with every default
// set.
func DefaultDestinationConfig() DestinationConfig {
	return DestinationConfig{QoS: 1, KeepAlive: DefaultKeepAlive, ConnectTimeout: DefaultConnectTimeout,
		Format: "raw", JSONRaw: "always", AckTimeout: 30 * time.Second, MaxMessageBytes: DefaultMaxMessageBytes,
		Batch: batch.Config{Count: 1000, Age: 100 * time.Millisecond, Parallelism: 1, Eager: true}}
}

// Validate checks every field of c, each error naming its field.
func (c *SourceConfig) Validate() error {
	errs := c.conn().validate()
	if c.Topic != "" {
		if err := checkTopic(c.Topic, true); err != nil {
			errs = append(errs, &config.FieldError{Path: "topic", Msg: err.Error()})
		}
	}
	if c.MaxInflight < 1 || c.MaxInflight > 65535 {
		errs = append(errs, &config.FieldError{Path: "maxInflight", Msg: fmt.Sprintf("want 1 to 65535, got %d", c.MaxInflight)})
	}
	if c.MaxMessageBytes < 1 {
		errs = append(errs, config.Want("maxMessageBytes", "at least 1", c.MaxMessageBytes))
	}
	return errors.Join(errs...)
}

// Validate checks every field of c, each error naming its field.
func (c *DestinationConfig) Validate() error {
	errs := c.conn().validate()
	if c.Topic != "" {
		if err := checkTopic(c.Topic, false); err != nil {
			errs = append(errs, &config.FieldError{Path: "topic", Msg: err.Error()})
		}
	}
	if c.Format != "raw" && c.Format != "json" {
		errs = append(errs, &config.FieldError{Path: "format", Msg: fmt.Sprintf("want raw or json, got %q", c.Format)})
	}
	if _, err := event.JSONRaw(c.JSONRaw); err != nil {
		errs = append(errs, &config.FieldError{Path: "jsonRaw", Msg: err.Error()})
	}
	if c.MaxMessageBytes < 1 || c.MaxMessageBytes > maxPayload {
		errs = append(errs, &config.FieldError{Path: "maxMessageBytes", Msg: fmt.Sprintf("want 1 to %d (MQTT's limit), got %d", maxPayload, c.MaxMessageBytes)})
	}
	if c.AckTimeout <= 0 {
		errs = append(errs, config.Want("ackTimeout", "more than 0", c.AckTimeout))
	}
	if err := c.Batch.Validate(); err != nil {
		errs = append(errs, config.Nest("batch", err)...)
	}
	return errors.Join(errs...)
}

// maxPayload is the largest payload MQTT 3.1.1 can carry: its remaining
// length limit less room for the topic and packet id.
const maxPayload = 268435455 - 65535 - 4

// conn is what a source and a destination need to connect.
type conn struct {
	broker, clientID, topic string
	qos                     int
	userName                string
	password                config.Secret
	keepAlive, timeout      time.Duration
	tls                     *TLSConfig
}

func (c *SourceConfig) conn() conn {
	return conn{c.Broker, c.ClientID, c.Topic, c.QoS, c.UserName, c.Password, c.KeepAlive, c.ConnectTimeout, c.TLS}
}

func (c *DestinationConfig) conn() conn {
	return conn{c.Broker, c.ClientID, c.Topic, c.QoS, c.UserName, c.Password, c.KeepAlive, c.ConnectTimeout, c.TLS}
}

// validate checks the connection's fields. Empty required fields are left
// to New and to the config decoder, which reports them as required.
func (c conn) validate() []error {
	var errs []error
	field := func(path, format string, args ...any) {
		errs = append(errs, &config.FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if c.broker != "" {
		if u, err := brokerURL(c.broker); err != nil {
			field("broker", "%v", err)
		} else if c.tls != nil && !isTLS(u.Scheme) {
			errs = append(errs, tlsWithoutTLS(c.broker))
		}
	}
	if c.qos < 0 || c.qos > 2 {
		field("qos", "want 0, 1 or 2, got %d", c.qos)
	}
	if len(c.clientID) > 65535 {
		field("clientID", "longer than 65535 bytes")
	}
	if c.keepAlive < time.Second {
		field("keepAlive", "want at least 1s, got %v", c.keepAlive)
	}
	if c.timeout < 0 {
		field("connectTimeout", "want 0 or more, got %v", c.timeout)
	}
	if c.password != "" && c.userName == "" {
		field("password", "set without userName")
	}
	if t := c.tls; t != nil {
		if err := config.Pair("tls.certFile", "tls.keyFile", t.CertFile != "", t.KeyFile != ""); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// brokerURL parses a broker address and checks its scheme. Its errors
// quote the address without what precedes an '@': a user name and
// password there are used to log in, and are secrets.
func brokerURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("want a URL such as tcp://host:1883, got %q", config.RedactUserinfo(s))
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "tcps":
	default:
		return nil, fmt.Errorf("want scheme tcp, mqtt, ssl, tls or mqtts, got %q", u.Scheme)
	}
	if u.Port() == "" {
		return nil, fmt.Errorf("want a URL with a port such as tcp://host:1883, got %q", config.RedactUserinfo(s))
	}
	return u, nil
}

// checkTopic checks an MQTT 3.1.1 topic filter (for a subscription) or,
// if !filter, a topic name (for a publish, which may hold no wildcard:
// mosquitto closes the connection of a client that publishes to one).
func checkTopic(t string, filter bool) error {
	if strings.ContainsRune(t, 0) || !utf8.ValidString(t) {
		return fmt.Errorf("want UTF-8 text without NUL, got %q", t)
	}
	if len(t) > 65535 {
		return errors.New("longer than 65535 bytes")
	}
	if !filter {
		if strings.ContainsAny(t, "+#") {
			return fmt.Errorf("want a topic without the wildcards + and # (a publish goes to one topic), got %q", t)
		}
		return nil
	}
	levels := strings.Split(t, "/")
	for i, l := range levels {
		if (strings.Contains(l, "#") && (l != "#" || i != len(levels)-1)) || (strings.Contains(l, "+") && l != "+") {
			return fmt.Errorf("want a topic filter whose + fills a level and # fills the last one, such as logs/+/app or logs/#, got %q", t)
		}
	}
	return nil
}

// defaultClientID is sluiced-HOST-NAME.
func defaultClientID(name string) string {
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	return "sluiced-" + host + "-" + name
}
