package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/internal/tlsconfig"
	"github.com/sluicehq/sluice/retry"
)

// connectPolicy is the back-off between attempts to reach a broker that
// is down at start: 100ms doubling to 5s, without limit.
var connectPolicy = retry.Policy{Max: 5 * time.Second}

// clientOptions returns the paho options for c; the caller adds its
// handlers. cleanSession is false for a source (its session, and what is
// queued for it, outlives a restart).
func (c conn) clientOptions(cleanSession bool) (*paho.ClientOptions, error) {
	u, err := brokerURL(c.broker)
	if err != nil {
		return nil, err
	}
	o := paho.NewClientOptions().
		AddBroker(c.broker).
		SetClientID(c.clientID).
		SetCleanSession(cleanSession).
		SetKeepAlive(c.keepAlive).
		SetPingTimeout(min(c.keepAlive, 10*time.Second)).
		SetConnectTimeout(c.timeout).
		SetWriteTimeout(c.timeout).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(30 * time.Second).
		SetConnectRetry(false). // Run retries the first connection itself, with back-off and logs
		SetProtocolVersion(4)   // MQTT 3.1.1
	if c.userName != "" {
		o.SetUsername(c.userName)
		o.SetPassword(c.password.Reveal())
	}
	if isTLS(u.Scheme) {
		t := c.tls
		if t == nil {
			t = &TLSConfig{}
		}
		tc, err := tlsconfig.Client(t.CAFile, t.CertFile, t.KeyFile, t.InsecureSkipVerify)
		if err != nil {
			return nil, &config.FieldError{Path: "tls", Msg: strings.TrimPrefix(err.Error(), "tls: "), Err: err}
		}
		tc.ServerName = u.Hostname()
		o.SetTLSConfig(tc)
	} else if c.tls != nil {
		return nil, tlsWithoutTLS(c.broker)
	}
	return o, nil
}

func isTLS(scheme string) bool {
	switch scheme {
	case "ssl", "tls", "mqtts", "tcps":
		return true
	}
	return false
}

// redact returns the broker URL without any user or password in it, for
// logs and errors.
func redact(broker string) string {
	u, err := url.Parse(broker)
	if err != nil {
		return "(unparsable broker URL)"
	}
	return u.Scheme + "://" + u.Host
}

// connect connects client, retrying with back-off while the broker cannot
// be reached, and logging each failure with the broker's address. A
// refusal that retrying cannot cure (bad credentials, a rejected client
// id) returns at once with an error naming the config field at fault.
func connect(ctx context.Context, client paho.Client, broker string, log *slog.Logger, failed func(string)) error {
	where := redact(broker)
	attempt := 0
	return retry.Do(ctx, connectPolicy, isRetryable, func(ctx context.Context) error {
		attempt++
		tok := client.Connect()
		select {
		case <-tok.Done():
		case <-ctx.Done():
			return ctx.Err()
		}
		err := tok.Error()
		if err == nil {
			log.Info("connected to broker", "broker", where, "sessionPresent", tok.(*paho.ConnectToken).SessionPresent())
			return nil
		}
		err = connectError(where, tok.(*paho.ConnectToken).ReturnCode(), err)
		if failed != nil {
			failed("connect")
		}
		if isRetryable(err) {
			log.Warn("cannot reach broker; retrying", "broker", where, "attempt", attempt, "err", err)
		}
		return err
	})
}

// refused is a connection the broker refused for a reason retrying cannot
// cure.
type refused struct{ error }

func isRetryable(err error) bool {
	var r refused
	return !errors.As(err, &r)
}

// connectError explains a failed connection attempt, naming the config
// field at fault when the broker refused it.
func connectError(where string, rc byte, err error) error {
	switch rc {
	case packets.ErrRefusedBadUsernameOrPassword:
		return refused{fmt.Errorf("broker %s refused the connection: bad user name or password (check userName and password)", where)}
	case packets.ErrRefusedNotAuthorised:
		return refused{fmt.Errorf("broker %s refused the connection: not authorised (check userName and password)", where)}
	case packets.ErrRefusedIDRejected:
		return refused{fmt.Errorf("broker %s refused the connection: client identifier rejected (check clientID)", where)}
	case packets.ErrRefusedBadProtocolVersion:
		return refused{fmt.Errorf("broker %s refused the connection: it does not speak MQTT 3.1.1", where)}
	}
	var (
		header tls.RecordHeaderError
		verify *tls.CertificateVerificationError
	)
	if errors.As(err, &header) || errors.As(err, &verify) {
		return refused{fmt.Errorf("broker %s: TLS: %w (check the broker's scheme and tls)", where, err)}
	}
	return fmt.Errorf("broker %s: %w", where, err)
}

// subscribeError explains a failed subscription.
func subscribeError(topic string, tok *paho.SubscribeToken) error {
	if err := tok.Error(); err != nil {
		return fmt.Errorf("subscribe to topic %q: %w", topic, err)
	}
	for t, code := range tok.Result() {
		if code == 0x80 {
			return refused{fmt.Errorf("subscribe to topic %q: refused by the broker (an invalid topic filter, or not authorised: check topic and the broker's ACL)", t)}
		}
	}
	return nil
}

// tlsWithoutTLS is the error of a tls field set for a broker whose URL's
// scheme does not connect with TLS.
func tlsWithoutTLS(broker string) error {
	return &config.FieldError{Path: "tls", Msg: fmt.Sprintf("set, but broker %s is not ssl://, tls:// or mqtts://", redact(broker))}
}
