package kafka

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
)

// SourceConfig configures the "kafka" source, made by [NewSource].
type SourceConfig struct {
	// Brokers are the seed brokers, host:port each, such as
	// ["kafka1:9092", "kafka2:9092"]. Required.
	Brokers []string `json:"brokers" sluice:"required"`
	// Topics are the topics to consume. Each must exist: a topic the
	// cluster does not have fails the start. Required.
	Topics []string `json:"topics" sluice:"required"`
	// Group is the consumer group. Members of one group share the
	// topics' partitions; offsets are committed to it. Default "sluiced".
	Group string `json:"group"`
	// StartAt is where a partition that has no committed offset in the
	// group is read from: "beginning" (the oldest record the broker
	// keeps) or "end" (only records produced from now on; the end is
	// committed for the group at assignment, before any record of the
	// partition is handed on, so a restart resumes there). Default
	// "beginning".
	StartAt string `json:"startAt"`
	// StartTimeout bounds how long, with StartAt "end", the source tries
	// to commit where a newly assigned partition with no committed offset
	// starts (its end, listed at assignment, or else the offset of its
	// first record fetched): none of its records is handed on meanwhile
	// (/readyz answers 503 naming the partition), and past it the source
	// fails (sluiced stops) rather than hand on records from a start it
	// has not committed. Default 1m.
	StartTimeout time.Duration `json:"startTimeout"`
	// InstanceID is the group.instance.id of static membership. Default
	// "": a random one, made once and kept in the data directory
	// (kafka/<source name>.instance-id), so that a restart after a crash
	// takes the member's partitions back at once (see the package doc).
	InstanceID string `json:"instanceID"`
	// SessionTimeout is how long the broker waits for a member that
	// stopped heartbeating before it gives its partitions to the others,
	// when the member does not come back. It must lie within the broker's
	// group.min.session.timeout.ms and group.max.session.timeout.ms
	// (6s and 30m by default): one the brokers refuse fails the start.
	// Default 10s.
	SessionTimeout time.Duration `json:"sessionTimeout"`
	// CommitInterval is how often the offsets of acked records are
	// committed. Offsets are also committed when partitions are revoked
	// and at shutdown. Default 1s.
	CommitInterval time.Duration `json:"commitInterval"`
	// MaxPending bounds the records fetched and not yet acked, across
	// partitions; fetching pauses at the bound (back-pressure). Default
	// 10000.
	MaxPending int `json:"maxPending"`
	// MaxMessageBytes is the largest record value taken. A larger record
	// is not passed on: it is acked at once (its offset is committed with
	// the others), counted (dropped, cause "oversize") and logged. Raise
	// it with the topic's max.message.bytes. Default 1048576 (1 MiB, about
	// the broker's default message.max.bytes).
	MaxMessageBytes int `json:"maxMessageBytes"`
	// StopTimeout bounds how long a stop waits for the records handed out
	// to be acked, for a last commit. Default 5s.
	StopTimeout time.Duration `json:"stopTimeout"`
	// ClientID is the client.id the brokers see in their logs and quotas.
	// Default "sluiced".
	ClientID string `json:"clientID"`
	// TLS, if set, connects with TLS. Default: plaintext.
	TLS *TLSConfig `json:"tls"`
	// SASL, if set, authenticates with SASL. Default: none.
	SASL *SASLConfig `json:"sasl"`
}

// DestinationConfig configures the "kafka" destination, made by
// [NewDestination].
type DestinationConfig struct {
	// Brokers are the seed brokers, host:port each. Required.
	Brokers []string `json:"brokers" sluice:"required"`
	// Topic is the topic to produce to. It must exist: a topic the
	// cluster does not have fails the start. Required.
	Topic string `json:"topic" sluice:"required"`
	// Key names the event field whose value becomes the record key, which
	// picks the partition (records of one key stay in order): "host",
	// "source", "sourceType", "contentType", "syslog.hostname",
	// "syslog.appName", "syslog.procId", "syslog.msgId" or "fields.NAME".
	// An event without the field gets no key. Default "": the key the
	// event came with from a kafka source, else none.
	Key string `json:"key"`
	// Acks is what the broker waits for before it acknowledges a
	// produce, and so before events are acked: "all" (every in-sync
	// replica), "leader" or "none". The idempotent producer, which keeps
	// retries from writing a record twice, needs "all" and is on with it.
	// Default "all".
	Acks string `json:"acks"`
	// Compression is the codec of record batches: "zstd", "lz4",
	// "snappy", "gzip" or "none". Default "snappy".
	Compression string `json:"compression"`
	// Format is "raw" (each event's original bytes, as received) or
	// "json" (one JSON object per record). Default "raw".
	Format string `json:"format"`
	// JSONRaw says which events keep their original bytes ("raw") in
	// format json: "always" or "unparsed". Default "always".
	JSONRaw string `json:"jsonRaw"`
	// MaxMessageBytes is the largest record (key plus value) sent; a
	// larger event is not sent but dead-lettered, or counted (dropped,
	// cause "oversize") and logged. The topic's max.message.bytes, read
	// at start, lowers it (less 128 bytes of record overhead). Default
	// 1000000.
	MaxMessageBytes int `json:"maxMessageBytes"`
	// MaxBuffered bounds the records handed to the producer and not yet
	// acknowledged by the broker; Send blocks at the bound
	// (back-pressure). Default 10000.
	MaxBuffered int `json:"maxBuffered"`
	// ClientID is the client.id the brokers see. Default "sluiced".
	ClientID string `json:"clientID"`
	// TLS, if set, connects with TLS. Default: plaintext.
	TLS *TLSConfig `json:"tls"`
	// SASL, if set, authenticates with SASL. Default: none.
	SASL *SASLConfig `json:"sasl"`
}

// TLSConfig configures the client side of TLS.
type TLSConfig struct {
	// CAFile is a PEM file of certificates that replace the system's
	// roots for verifying the brokers. Default "": the system's roots.
	CAFile string `json:"caFile"`
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// mutual TLS; set both or neither. Default "": none.
	CertFile string `json:"certFile"`
	// KeyFile: see CertFile.
	KeyFile string `json:"keyFile"`
	// ServerName is the name the brokers' certificates must hold. Default
	// "": the host of each broker's address.
	ServerName string `json:"serverName"`
	// InsecureSkipVerify turns off verification of the brokers'
	// certificates. For tests only. Default false.
	InsecureSkipVerify bool `json:"insecureSkipVerify"`
}

// SASLConfig configures SASL authentication.
type SASLConfig struct {
	// Mechanism is "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512". Required.
	Mechanism string `json:"mechanism" sluice:"required"`
	// User is the user name. Required.
	User string `json:"user" sluice:"required"`
	// Password is the user's password. Required.
	Password config.Secret `json:"password" sluice:"required"`
}

// Defaults.
const (
	defaultGroup       = "sluiced"
	defaultClientID    = "sluiced"
	defaultMaxMessage  = 1_000_000
	defaultMaxBuffered = 10_000
)

// DefaultSourceConfig returns a SourceConfig with every default set and
// no brokers or topics.
func DefaultSourceConfig() SourceConfig {
	return SourceConfig{Group: defaultGroup, StartAt: "beginning", StartTimeout: time.Minute, SessionTimeout: 10 * time.Second,
		CommitInterval: time.Second, MaxPending: 10_000, MaxMessageBytes: 1 << 20, StopTimeout: 5 * time.Second, ClientID: defaultClientID}
}

// DefaultDestinationConfig returns a DestinationConfig with every default
// set and no brokers or topic.
func DefaultDestinationConfig() DestinationConfig {
	return DestinationConfig{Acks: "all", Compression: "snappy", Format: "raw", JSONRaw: "always",
		MaxMessageBytes: defaultMaxMessage, MaxBuffered: defaultMaxBuffered, ClientID: defaultClientID}
}

// Validate checks every field that has a fixed set of values or a fixed
// form; empty required fields are left to [NewSource] (and to the config
// decoder, which reports them as required).
func (c *SourceConfig) Validate() error {
	errs := checkConn(c.Brokers, c.TLS, c.SASL)
	for i, t := range c.Topics {
		if err := checkTopic(t); err != nil {
			errs = append(errs, field(fmt.Sprintf("topics[%d]", i), err.Error()))
		}
	}
	if c.StartAt != "beginning" && c.StartAt != "end" {
		errs = append(errs, field("startAt", fmt.Sprintf("want beginning or end, got %q", c.StartAt)))
	}
	if c.SessionTimeout < 0 {
		errs = append(errs, config.Want("sessionTimeout", "0 or more", c.SessionTimeout))
	}
	if c.CommitInterval < 0 {
		errs = append(errs, config.Want("commitInterval", "0 or more", c.CommitInterval))
	}
	if c.StartTimeout < 0 {
		errs = append(errs, config.Want("startTimeout", "0 or more", c.StartTimeout))
	}
	if c.StopTimeout < 0 {
		errs = append(errs, config.Want("stopTimeout", "0 or more", c.StopTimeout))
	}
	if c.MaxPending < 0 {
		errs = append(errs, config.Want("maxPending", "0 or more", c.MaxPending))
	}
	if c.MaxMessageBytes < 1 {
		errs = append(errs, config.Want("maxMessageBytes", "at least 1", c.MaxMessageBytes))
	}
	return errors.Join(errs...)
}

// Validate checks every field that has a fixed set of values or a fixed
// form.
func (c *DestinationConfig) Validate() error {
	errs := checkConn(c.Brokers, c.TLS, c.SASL)
	if c.Topic != "" {
		if err := checkTopic(c.Topic); err != nil {
			errs = append(errs, field("topic", err.Error()))
		}
	}
	if c.Key != "" {
		if _, err := keyFunc(c.Key); err != nil {
			errs = append(errs, field("key", err.Error()))
		}
	}
	if _, ok := acksOf[c.Acks]; !ok {
		errs = append(errs, field("acks", fmt.Sprintf("want all, leader or none, got %q", c.Acks)))
	}
	if _, ok := codecs[c.Compression]; !ok {
		errs = append(errs, field("compression", fmt.Sprintf("want zstd, lz4, snappy, gzip or none, got %q", c.Compression)))
	}
	if c.Format != "raw" && c.Format != "json" {
		errs = append(errs, field("format", fmt.Sprintf("want raw or json, got %q", c.Format)))
	}
	if _, err := event.JSONRaw(c.JSONRaw); err != nil {
		errs = append(errs, field("jsonRaw", err.Error()))
	}
	if c.MaxMessageBytes < 0 || c.MaxMessageBytes > 1<<30 {
		errs = append(errs, field("maxMessageBytes", fmt.Sprintf("want 1 to %d, got %d", 1<<30, c.MaxMessageBytes)))
	}
	if c.MaxBuffered < 0 {
		errs = append(errs, config.Want("maxBuffered", "0 or more", c.MaxBuffered))
	}
	return errors.Join(errs...)
}

func field(path, msg string) error { return &config.FieldError{Path: path, Msg: msg} }

// checkConn checks the fields both configs share.
func checkConn(brokers []string, t *TLSConfig, s *SASLConfig) []error {
	var errs []error
	for i, b := range brokers {
		if err := checkAddr(b); err != nil {
			errs = append(errs, field(fmt.Sprintf("brokers[%d]", i), err.Error()))
		}
	}
	if t != nil {
		if err := config.Pair("tls.certFile", "tls.keyFile", t.CertFile != "", t.KeyFile != ""); err != nil {
			errs = append(errs, err)
		}
	}
	if s != nil {
		switch s.Mechanism {
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "":
		default:
			errs = append(errs, field("sasl.mechanism", fmt.Sprintf("want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got %q", s.Mechanism)))
		}
	}
	return errs
}

// checkAddr reports whether s is host:port with a host and a numeric
// port.
func checkAddr(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return fmt.Errorf("want host:port, got %q", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("want host:port with a port from 1 to 65535, got %q", s)
	}
	return nil
}

// checkTopic applies Kafka's rule for topic names: 1 to 249 characters
// of [a-zA-Z0-9._-], and not "." or "..".
func checkTopic(t string) error {
	if t == "" || len(t) > 249 || t == "." || t == ".." {
		return fmt.Errorf("want a topic name of 1 to 249 characters, not . or .., got %q", t)
	}
	if i := strings.IndexFunc(t, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	}); i >= 0 {
		return fmt.Errorf("want a topic name of letters, digits, '.', '_' and '-', got %q", t)
	}
	return nil
}

// saslRequired returns the required fields of s, if set, for
// [config.Required].
func saslRequired(s *SASLConfig) []config.Field {
	if s == nil {
		return nil
	}
	return []config.Field{{Path: "sasl.mechanism", Empty: s.Mechanism == ""}, {Path: "sasl.user", Empty: s.User == ""},
		{Path: "sasl.password", Empty: s.Password == ""}}
}
