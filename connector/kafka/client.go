package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/tlsconfig"
	"github.com/sluicehq/sluice/retry"
)

var acksOf = map[string]kgo.Acks{"all": kgo.AllISRAcks(), "leader": kgo.LeaderAck(), "none": kgo.NoAck()}

var codecs = map[string]kgo.CompressionCodec{"zstd": kgo.ZstdCompression(), "lz4": kgo.Lz4Compression(),
	"snappy": kgo.SnappyCompression(), "gzip": kgo.GzipCompression(), "none": kgo.NoCompression()}

// connOpts returns the client options for brokers, TLS and SASL. It reads
// the TLS files.
func connOpts(what string, brokers []string, clientID string, t *TLSConfig, s *SASLConfig) ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ClientID(clientID),
		// Reconnects back off from 100ms to 5s, with jitter (retry.Policy).
		kgo.RetryBackoffFn(func(n int) time.Duration {
			return retry.Policy{Max: 5 * time.Second}.Delay(n - 1)
		})}
	if t != nil {
		tc, err := tlsconfig.Client(t.CAFile, t.CertFile, t.KeyFile, t.InsecureSkipVerify)
		if err != nil {
			return nil, fmt.Errorf("kafka %s: tls: %w", what, err)
		}
		tc.ServerName = t.ServerName
		// An empty ServerName is set per broker from its host by kgo.
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if s != nil {
		opts = append(opts, kgo.SASL(mechanism(s)))
	}
	return opts, nil
}

func mechanism(s *SASLConfig) sasl.Mechanism {
	switch s.Mechanism {
	case "PLAIN":
		return plain.Auth{User: s.User, Pass: s.Password.Reveal()}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: s.User, Pass: s.Password.Reveal()}.AsSha256Mechanism()
	default:
		return scram.Auth{User: s.User, Pass: s.Password.Reveal()}.AsSha512Mechanism()
	}
}

// connect waits until the cluster answers a metadata request for topics,
// retrying with back-off while no broker can be reached, and logging each
// failure with the brokers it tried. It fails at once, with a clear error,
// when authentication fails or a topic does not exist. ready, if not nil,
// is set once it succeeds.
func connect(ctx context.Context, what string, cl *kgo.Client, brokers, topics []string, sasl *SASLConfig, log *slog.Logger) error {
	adm := kadm.NewClient(cl)
	check := func(ctx context.Context) error {
		mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		md, err := adm.Metadata(mctx, topics...)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return connError(what, brokers, sasl, err)
		}
		for _, t := range topics {
			td, ok := md.Topics[t]
			switch {
			case !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition):
				return fmt.Errorf("kafka %s: topic %q does not exist on brokers %s (create it first; sluiced does not create topics)", what, t, strings.Join(brokers, ","))
			case errors.Is(td.Err, kerr.TopicAuthorizationFailed):
				return fmt.Errorf("kafka %s: topic %q: not authorized for this user (sasl.user)", what, t)
			case td.Err != nil:
				return sluice.Retryable(fmt.Errorf("kafka %s: topic %q: %w", what, t, td.Err))
			}
		}
		return nil
	}
	return retry.DoNotify(ctx, retry.Policy{Max: 10 * time.Second}, nil, check, func(n int, d time.Duration, err error) {
		log.Warn("kafka: cannot reach the cluster; retrying", "brokers", strings.Join(brokers, ","), "attempt", n, "in", d.Round(time.Millisecond), "err", err)
	})
}

// connError classifies a failed metadata request: authentication and
// TLS failures are fatal, the rest (brokers down, unreachable) retryable.
func connError(what string, brokers []string, s *SASLConfig, err error) error {
	bs := strings.Join(brokers, ",")
	var ke *kerr.Error
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.IllegalSaslState):
		user := ""
		if s != nil {
			user = s.User
		}
		return fmt.Errorf("kafka %s: brokers %s: SASL authentication failed for sasl.user %q: check sasl.user and sasl.password: %w", what, bs, user, err)
	case errors.Is(err, kerr.UnsupportedSaslMechanism):
		return fmt.Errorf("kafka %s: brokers %s: sasl.mechanism is not enabled on the broker: %w", what, bs, err)
	case errors.As(err, &ke) && !ke.Retriable:
		return fmt.Errorf("kafka %s: brokers %s: %w", what, bs, err)
	case isTLSError(err):
		return fmt.Errorf("kafka %s: brokers %s: tls: %w", what, bs, err)
	}
	return sluice.Retryable(fmt.Errorf("kafka %s: brokers %s unreachable: %w", what, bs, err))
}

// isTLSError reports a failed TLS handshake: a certificate that does not
// verify, or an alert from the broker. Retrying does not help.
func isTLSError(err error) bool {
	var ve *tls.CertificateVerificationError
	var ae tls.AlertError
	var he x509.HostnameError
	var ue x509.UnknownAuthorityError
	return errors.As(err, &ve) || errors.As(err, &ae) || errors.As(err, &he) || errors.As(err, &ue)
}

// keyFunc returns the function that reads the record key from an event
// for the destination's key field name.
func keyFunc(name string) (func(*event.Event) (string, bool), error) {
	switch name {
	case "host":
		return func(e *event.Event) (string, bool) { return e.Host, e.Host != "" }, nil
	case "source":
		return func(e *event.Event) (string, bool) { return e.Source, e.Source != "" }, nil
	case "sourceType":
		return func(e *event.Event) (string, bool) { return e.SourceType, e.SourceType != "" }, nil
	case "contentType":
		return func(e *event.Event) (string, bool) { return e.ContentType, e.ContentType != "" }, nil
	case "syslog.hostname":
		return func(e *event.Event) (string, bool) { return e.Syslog.Hostname, e.Syslog.Hostname != "" }, nil
	case "syslog.appName":
		return func(e *event.Event) (string, bool) { return e.Syslog.AppName, e.Syslog.AppName != "" }, nil
	case "syslog.procId":
		return func(e *event.Event) (string, bool) { return e.Syslog.ProcID, e.Syslog.ProcID != "" }, nil
	case "syslog.msgId":
		return func(e *event.Event) (string, bool) { return e.Syslog.MsgID, e.Syslog.MsgID != "" }, nil
	}
	if f, ok := strings.CutPrefix(name, "fields."); ok && f != "" {
		return func(e *event.Event) (string, bool) { return e.Field(f) }, nil
	}
	return nil, fmt.Errorf("want host, source, sourceType, contentType, syslog.hostname, syslog.appName, syslog.procId, syslog.msgId or fields.NAME, got %q", name)
}

// readiness is what a source or destination reports to /readyz.
type readiness struct {
	why atomic.Pointer[string]
}

func (r *readiness) set(why string) { r.why.Store(&why) }

// NotReady returns why the component cannot move events now, or ""
// (daemon.NotReadier).
func (r *readiness) NotReady() string {
	if p := r.why.Load(); p != nil {
		return *p
	}
	return "not started"
}

// kgoLogger passes franz-go's warnings and errors to a slog.Logger.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, kv ...any) {
	lv := slog.LevelWarn
	if level == kgo.LogLevelError {
		lv = slog.LevelError
	}
	k.l.Log(context.Background(), lv, "kafka: "+msg, kv...)
}
