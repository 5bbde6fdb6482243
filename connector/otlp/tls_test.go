package otlp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/batch"
)

// selfSigned writes a certificate for 127.0.0.1 and its key to dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sluice test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestTLS: with tls set, both listeners take TLS only, and the
// destination sends over TLS, trusting the CA file it is given.
func TestTLS(t *testing.T) {
	certFile, keyFile := selfSigned(t, t.TempDir())
	src, gaddr, haddr := startSource(t, SourceConfig{TLS: &TLSConfig{CertFile: certFile, KeyFile: keyFile}})
	for _, c := range []struct{ protocol, endpoint string }{{"grpc", gaddr}, {"http", "https://" + haddr}} {
		t.Run(c.protocol, func(t *testing.T) {
			d, err := NewDestination(DestinationConfig{Endpoint: c.endpoint, Protocol: c.protocol, TLS: &ClientTLSConfig{CAFile: certFile},
				Batch: batch.Config{Count: 5, Age: 10 * time.Millisecond, Retry: fastRetry}})
			if err != nil {
				t.Fatal(err)
			}
			runDest(t, d)
			got := make(chan string, 5)
			go func() {
				for _, e := range recvN(t, src, 5) {
					got <- string(e.Raw)
				}
				close(got)
			}()
			sendAll(t, d, c.protocol, 5)
			n := 0
			for raw := range got {
				if !strings.Contains(raw, `"body":"`+c.protocol+`-`) {
					t.Errorf("got %s", raw)
				}
				n++
			}
			if n != 5 {
				t.Errorf("%d records, want 5", n)
			}
		})
	}
	t.Run("plaintext client refused", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		_, err := grpcClient(t, gaddr).Export(ctx, reqOf("x"))
		if err == nil {
			t.Error("a plaintext gRPC request to the TLS listener succeeded")
		}
		r, err := httpPlain(haddr)
		if err == nil && r == 200 {
			t.Error("a plaintext HTTP request to the TLS listener got 200")
		}
	})
}

func httpPlain(addr string) (int, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
	var b [64]byte
	n, _ := c.Read(b[:])
	if strings.HasPrefix(string(b[:n]), "HTTP/1.1 200") {
		return 200, nil
	}
	return 400, nil
}
