// Package tlsconfig builds the TLS configurations of listening sources
// and of connecting destinations from PEM files. Errors start with
// "tls: " and name the file at fault.
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// Server returns a server configuration (TLS 1.2 or later) with the PEM
// certificate and key in certFile and keyFile. If clientCAFile is set,
// clients must present a certificate signed by one of its CAs.
func Server(certFile, keyFile, clientCAFile string, nextProtos ...string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: nextProtos}
	if clientCAFile != "" {
		pool, err := certPool(clientCAFile)
		if err != nil {
			return nil, err
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// Client returns a client configuration that verifies servers against the
// CAs in caFile (the system's roots if empty) and, if certFile is set,
// presents that certificate with the key in keyFile. insecureSkipVerify
// turns off verification, for tests.
func Client(caFile, certFile, keyFile string, insecureSkipVerify bool) (*tls.Config, error) {
	tc := &tls.Config{InsecureSkipVerify: insecureSkipVerify} //nolint:gosec // opt-in, documented as for tests
	if caFile != "" {
		pool, err := certPool(caFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// certPool reads the PEM certificates in file.
func certPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls: no certificate in %s", file)
	}
	return pool, nil
}
