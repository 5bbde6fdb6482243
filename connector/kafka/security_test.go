package kafka_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/kafka"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
)

// TestTLSAndSASL: a destination and a source reach a broker that takes
// only TLS and SASL, with each mechanism; a wrong CA fails the start with
// a TLS error rather than retrying for ever.
func TestTLSAndSASL(t *testing.T) {
	dir := t.TempDir()
	serverTLS, caFile := selfSigned(t, dir)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "logs"), kfake.TLS(serverTLS), kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "plain-user", "pw1"),
		kfake.Superuser("SCRAM-SHA-256", "scram256-user", "pw2"),
		kfake.Superuser("SCRAM-SHA-512", "scram512-user", "pw3"),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	tlsCfg := &kafka.TLSConfig{CAFile: caFile}
	for i, tc := range []struct{ mechanism, user, pass string }{
		{"PLAIN", "plain-user", "pw1"},
		{"SCRAM-SHA-256", "scram256-user", "pw2"},
		{"SCRAM-SHA-512", "scram512-user", "pw3"},
	} {
		t.Run(tc.mechanism, func(t *testing.T) {
			sasl := &kafka.SASLConfig{Mechanism: tc.mechanism, User: tc.user, Password: config.Secret(tc.pass)}
			dst, err := kafka.NewDestination(kafka.DestinationConfig{Brokers: c.ListenAddrs(), Topic: "logs", TLS: tlsCfg, SASL: sasl})
			if err != nil {
				t.Fatal(err)
			}
			runSource(t, dst)
			acked := make(chan struct{})
			if err := dst.Send(t.Context(), func() { close(acked) }, sluice.Message[event.Event]{Value: event.Event{Raw: []byte(tc.mechanism)}}); err != nil {
				t.Fatal(err)
			}
			<-acked
			cfg := srcConfig(c, tc.mechanism, "logs")
			cfg.TLS, cfg.SASL = tlsCfg, sasl
			src, err := kafka.NewSource(cfg)
			if err != nil {
				t.Fatal(err)
			}
			runSource(t, src)
			msgs, _ := recvN(t, src, i+1, 10*time.Second)
			if got := string(msgs[i].Value.Raw); got != tc.mechanism {
				t.Errorf("read %q, want %q", got, tc.mechanism)
			}
		})
	}
	t.Run("unknown CA", func(t *testing.T) {
		_, otherCA := selfSigned(t, t.TempDir())
		cfg := srcConfig(c, "g", "logs")
		cfg.TLS = &kafka.TLSConfig{CAFile: otherCA}
		src, _ := kafka.NewSource(cfg)
		err := src.Run(t.Context())
		if err == nil || !strings.Contains(err.Error(), "kafka source: brokers "+c.ListenAddrs()[0]+": tls:") {
			t.Fatalf("Run = %v, want a TLS error naming the brokers", err)
		}
	})
}

// selfSigned writes a self-signed certificate for 127.0.0.1 to dir and
// returns the server's TLS config and the certificate file, as caFile.
func selfSigned(t *testing.T, dir string) (*tls.Config, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kafka.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, caFile
}

// TestWrongSASLPassword: a password the brokers refuse fails the start of
// the source and of the destination at once, with an error that names
// sasl.user and sasl.password and never holds the password. kfake closes
// the connection on a failed authentication; Kafka answers the
// SaslAuthenticate request with SASL_AUTHENTICATION_FAILED first, which
// the cluster here is made to do.
func TestWrongSASLPassword(t *testing.T) {
	const secret = "wrong-Pw-7Hq2Zx"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "logs"), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", "sluiced", "right-pw"), kfake.Superuser("PLAIN", "plain", "right-pw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		resp := req.(*kmsg.SASLAuthenticateRequest).ResponseKind().(*kmsg.SASLAuthenticateResponse)
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		msg := "Authentication failed: Invalid username or password"
		resp.ErrorMessage = &msg
		return resp, nil, true
	})
	for _, mech := range []string{"SCRAM-SHA-512", "PLAIN"} {
		t.Run(mech, func(t *testing.T) {
			sasl := &kafka.SASLConfig{Mechanism: mech, User: "sluiced", Password: config.Secret(secret)}
			dst, err := kafka.NewDestination(kafka.DestinationConfig{Brokers: c.ListenAddrs(), Topic: "logs", SASL: sasl})
			if err != nil {
				t.Fatal(err)
			}
			src, err := kafka.NewSource(kafka.SourceConfig{Brokers: c.ListenAddrs(), Topics: []string{"logs"}, SASL: sasl})
			if err != nil {
				t.Fatal(err)
			}
			for name, r := range map[string]sluice.Runner{"destination": dst, "source": src} {
				ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
				err := r.Run(ctx)
				cancel()
				if err == nil || !strings.Contains(err.Error(), "check sasl.user and sasl.password") {
					t.Errorf("%s: Run = %v, want an error naming sasl.user and sasl.password", name, err)
				}
				if err != nil && strings.Contains(err.Error(), secret) {
					t.Errorf("%s: Run = %v: holds the password", name, err)
				}
			}
		})
	}
}
