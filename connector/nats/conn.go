package nats

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/internal/tlsconfig"
	"github.com/sluicehq/sluice/retry"
)

// natsOptions returns the nats.go options for c. After the first
// connection, nats.go reconnects without limit.
func (c conn) natsOptions(name string, log *slog.Logger, failed func(string)) ([]natsgo.Option, error) {
	where := redact(c.url)
	opts := []natsgo.Option{
		natsgo.Name(name),
		natsgo.Timeout(c.timeout),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(time.Second),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			if err != nil {
				failed("connection")
				log.Warn("disconnected from server; reconnecting", "url", where, "err", err)
			}
		}),
		natsgo.ReconnectHandler(func(nc *natsgo.Conn) {
			log.Info("reconnected to server", "url", redact(nc.ConnectedUrlRedacted()))
		}),
		natsgo.ErrorHandler(func(_ *natsgo.Conn, _ *natsgo.Subscription, err error) {
			failed("async")
			log.Warn("server error", "url", where, "err", err)
		}),
	}
	switch {
	case c.credsFile != "":
		opts = append(opts, natsgo.UserCredentials(c.credsFile))
	case c.token != "":
		opts = append(opts, natsgo.Token(c.token.Reveal()))
	case c.user != "":
		opts = append(opts, natsgo.UserInfo(c.user, c.password.Reveal()))
	}
	if t := c.tls; t != nil || strings.HasPrefix(c.url, "tls://") {
		if t == nil {
			t = &TLSConfig{}
		}
		tc, err := tlsconfig.Client(t.CAFile, t.CertFile, t.KeyFile, t.InsecureSkipVerify)
		if err != nil {
			return nil, err
		}
		opts = append(opts, natsgo.Secure(tc))
	}
	return opts, nil
}

// connect connects to c's servers, retrying with back-off while none can
// be reached and logging each failure with the URL. A refusal that
// retrying cannot cure (bad credentials, TLS) returns at once with an
// error naming the config fields at fault.
func (c conn) connect(ctx context.Context, opts []natsgo.Option, log *slog.Logger, failed func(string)) (*natsgo.Conn, error) {
	where := redact(c.url)
	var nc *natsgo.Conn
	attempt := 0
	// Waits of at most 5s: a server that comes back is connected to within
	// seconds, not the default policy's 30s.
	err := retry.Do(ctx, retry.Policy{Max: 5 * time.Second}, isRetryable, func(ctx context.Context) error {
		attempt++
		var err error
		nc, err = natsgo.Connect(c.url, opts...)
		if err == nil {
			log.Info("connected to server", "url", where, "server", nc.ConnectedServerVersion())
			return nil
		}
		failed("connect")
		err = connectError(where, err)
		if isRetryable(err) {
			log.Warn("cannot reach server; retrying", "url", where, "attempt", attempt, "err", err)
		}
		return err
	})
	return nc, err
}

// refused is an error that retrying cannot cure.
type refused struct{ error }

func (r refused) Unwrap() error { return r.error }

func isRetryable(err error) bool {
	var r refused
	return !errors.As(err, &r)
}

// connectError explains a failed connection, naming the config fields at
// fault when the server refused it.
func connectError(where string, err error) error {
	var (
		header tls.RecordHeaderError
		verify *tls.CertificateVerificationError
	)
	switch {
	case errors.Is(err, natsgo.ErrAuthorization), errors.Is(err, natsgo.ErrAuthExpired), errors.Is(err, natsgo.ErrAuthRevoked):
		return refused{fmt.Errorf("server %s refused the credentials: %w (check credentialsFile, token, or user and password)", where, err)}
	case errors.As(err, &header), errors.As(err, &verify), errors.Is(err, natsgo.ErrSecureConnRequired), errors.Is(err, natsgo.ErrSecureConnWanted):
		return refused{fmt.Errorf("server %s: TLS: %w (check url and tls)", where, err)}
	}
	return fmt.Errorf("server %s: %w", where, err)
}
