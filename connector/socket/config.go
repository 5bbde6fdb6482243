package socket

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/tlsconfig"
)

// Config configures the "socket" destination, made by [New].
type Config struct {
	// Addr is the receiver's host:port, such as "logs.example.com:6514".
	// Required.
	Addr string `json:"addr" sluice:"required"`
	// Network is "tcp", "tcp4" or "tcp6". Default "tcp".
	Network string `json:"network"`
	// Framing is "lf" (each event followed by a newline; an event that
	// holds a newline reaches the receiver as several frames) or "octet"
	// (RFC 6587 octet counting, "LEN SP MSG": any event is one frame).
	// Default "lf".
	Framing string `json:"framing"`
	// Format is "raw" (each event's original bytes, as received) or
	// "json" (one JSON object per event). Default "raw".
	Format string `json:"format"`
	// JSONRaw says which events keep their original bytes ("raw") in
	// format json: "always" (default) or "unparsed" (only those whose
	// fields were not parsed from them; a parsed syslog line is then
	// about half as long).
	JSONRaw string `json:"jsonRaw"`
	// TLS, if set, makes the connection TLS. Default: plain TCP.
	TLS *TLSConfig `json:"tls"`
	// DialTimeout bounds connecting, the TLS handshake included; a dial
	// that takes longer is retried. Default 5s.
	DialTimeout time.Duration `json:"dialTimeout"`
	// WriteTimeout bounds writing one batch; a write that takes longer
	// (the receiver does not read) closes the connection and is retried on
	// a new one. Default 30s.
	WriteTimeout time.Duration `json:"writeTimeout"`
	// Batch sets when batches are cut and how failed writes are retried
	// (batch.retry; maxAttempts 0, the default, retries without limit).
	// Defaults: eager (a batch is written as soon as the previous one is:
	// batches grow with the load), count 1024, bytes 1 MiB (each event
	// counts as its raw size plus 12, or plus 256 for json), age 200ms,
	// parallelism 1 (one connection, events in order), stopTimeout 5s.
	Batch batch.Config `json:"batch"`
}

// TLSConfig configures the client side of TLS. It has the fields of the
// http destination's tls block, and ServerName.
type TLSConfig struct {
	// CAFile is a PEM file of certificates that replace the system's
	// roots for verifying the server. Default "": the system's roots.
	CAFile string `json:"caFile"`
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// mutual TLS; set both or neither. Default "": no client certificate.
	CertFile string `json:"certFile"`
	// KeyFile: see CertFile.
	KeyFile string `json:"keyFile"`
	// ServerName is the name the server's certificate must hold, and is
	// sent in SNI. Default "": the host of addr.
	ServerName string `json:"serverName"`
	// InsecureSkipVerify turns off verification of the server's
	// certificate. For tests only. Default false.
	InsecureSkipVerify bool `json:"insecureSkipVerify"`
}

// DefaultConfig returns a Config with every default set and no Addr.
func DefaultConfig() Config {
	return Config{Network: "tcp", Framing: "lf", Format: "raw", JSONRaw: "always",
		DialTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second,
		Batch: batch.Config{Count: 1024, Bytes: 1 << 20, Age: 200 * time.Millisecond, Parallelism: 1, Eager: true}}
}

// Validate checks the fields that have a fixed set of values or a fixed
// form. An empty Addr is left to [New] (and to the config decoder, which
// reports it as required).
func (c *Config) Validate() error {
	var errs []error
	if c.Addr != "" {
		if err := checkAddr(c.Addr); err != nil {
			errs = append(errs, &config.FieldError{Path: "addr", Msg: err.Error()})
		}
	}
	if c.Network != "tcp" && c.Network != "tcp4" && c.Network != "tcp6" {
		errs = append(errs, &config.FieldError{Path: "network", Msg: fmt.Sprintf("want tcp, tcp4 or tcp6, got %q", c.Network)})
	}
	if c.Framing != "lf" && c.Framing != "octet" {
		errs = append(errs, &config.FieldError{Path: "framing", Msg: fmt.Sprintf("want lf or octet, got %q", c.Framing)})
	}
	if c.Format != "raw" && c.Format != "json" {
		errs = append(errs, &config.FieldError{Path: "format", Msg: fmt.Sprintf("want raw or json, got %q", c.Format)})
	}
	if _, err := event.JSONRaw(c.JSONRaw); err != nil {
		errs = append(errs, &config.FieldError{Path: "jsonRaw", Msg: err.Error()})
	}
	if c.DialTimeout < 0 {
		errs = append(errs, config.Want("dialTimeout", "0 or more", c.DialTimeout))
	}
	if c.WriteTimeout < 0 {
		errs = append(errs, config.Want("writeTimeout", "0 or more", c.WriteTimeout))
	}
	if t := c.TLS; t != nil {
		if err := config.Pair("tls.certFile", "tls.keyFile", t.CertFile != "", t.KeyFile != ""); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.Batch.Validate(); err != nil {
		errs = append(errs, config.Nest("batch", err)...)
	}
	return errors.Join(errs...)
}

// checkAddr reports whether s is host:port with a host and a numeric
// port.
func checkAddr(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("want host:port, got %q", s)
	}
	if host == "" {
		return fmt.Errorf("want host:port, got %q: no host", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("want host:port with a port from 1 to 65535, got %q", s)
	}
	return nil
}

// load reads the files of c and returns the client config for a server at
// host.
func (c *TLSConfig) load(host string) (*tls.Config, error) {
	cfg, err := tlsconfig.Client(c.CAFile, c.CertFile, c.KeyFile, c.InsecureSkipVerify)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	cfg.ServerName = c.ServerName
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	return cfg, nil
}
