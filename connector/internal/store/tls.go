package store

import (
	"crypto/tls"

	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/internal/tlsconfig"
)

// TLS configures the client side of TLS, the "tls" block of every store.
type TLS struct {
	// CAFile is a PEM file of certificates that replace the system's
	// roots for verifying the server. Default "": the system's roots.
	CAFile string `json:"caFile"`
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// mutual TLS; set both or neither. Default "": no client certificate.
	CertFile string `json:"certFile"`
	// KeyFile: see CertFile.
	KeyFile string `json:"keyFile"`
	// InsecureSkipVerify turns off verification of the server's
	// certificate, so anyone on the path can read and change the traffic:
	// for tests. Prefer caFile, also for a self-signed certificate such as
	// Splunk's default one. Default false.
	InsecureSkipVerify bool `json:"insecureSkipVerify"`
}

// Check returns an error at the field path "tls.certFile" or
// "tls.keyFile" if one is set without the other, or nil. It reads no
// file.
func (t TLS) Check() error {
	return config.Pair("tls.certFile", "tls.keyFile", t.CertFile != "", t.KeyFile != "")
}

// Config reads the files and returns the client configuration, or nil
// for a zero block (the system's roots, no client certificate).
func (t TLS) Config() (*tls.Config, error) {
	if t == (TLS{}) {
		return nil, nil
	}
	return tlsconfig.Client(t.CAFile, t.CertFile, t.KeyFile, t.InsecureSkipVerify)
}
