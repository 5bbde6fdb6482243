// Package tlsserver builds the TLS configuration of a listening source.
package tlsserver

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// Config returns a server configuration (TLS 1.2 or later) with the PEM
// certificate and key in certFile and keyFile. If clientCAFile is set,
// clients must present a certificate signed by one of its CAs. Errors
// start with "tls: " and name the file at fault.
func Config(certFile, keyFile, clientCAFile string, nextProtos ...string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: nextProtos}
	if clientCAFile != "" {
		pem, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: no certificate in %s", clientCAFile)
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return tc, nil
}
