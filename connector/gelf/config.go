package gelf

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/internal/store"
	"github.com/sluicehq/sluice/daemon/config"
)

// Config configures the "gelf" destination, made by [New]. Its field
// names are those of kawa's GELF example.
type Config struct {
	// ServiceAddr is the Graylog input's host:port, such as
	// "graylog.example.com:12201". Required.
	ServiceAddr string `json:"serviceAddr" sluice:"required"`
	// Network is "udp" (datagrams, compressed, chunked when larger than
	// ChunkSize; nothing confirms delivery) or "tcp" (one uncompressed
	// message per NUL-terminated frame). Default "udp".
	Network string `json:"network"`
	// Compression is how UDP messages are compressed: "auto" (gzip for a
	// message larger than ChunkSize, which then needs fewer chunks or
	// none; smaller ones go uncompressed, saving a deflate per event),
	// "gzip" or "zlib" (every message), or "none". Graylog takes all of
	// them on one input. TCP messages are never compressed (Graylog's TCP
	// input does not take it). Default "auto".
	Compression string `json:"compression"`
	// ChunkSize is the largest UDP datagram, chunk header (12 bytes)
	// included. A message needing more than 128 chunks is refused (to the
	// dead letter). Between 512 and 65467; use 1420 across networks with a
	// 1500-byte MTU. Default 8192.
	ChunkSize int `json:"chunkSize"`
	// Host is the GELF "host" of events that have no host of their own
	// (neither a syslog hostname nor a sender address). Default: this
	// machine's hostname.
	Host string `json:"host"`
	// TLS, if set, makes a TCP connection TLS (Graylog's GELF TCP input
	// with tls_enable), verified against caFile or the system's roots,
	// the server name taken from serviceAddr. A file that cannot be read
	// fails the start; a handshake that fails (an unknown authority, a
	// wrong name) is retried as a failed dial is. Only with network
	// "tcp". Default: plain TCP.
	TLS *TLSConfig `json:"tls"`
	// Timeout bounds a dial and the write of one batch; a TCP connection
	// whose write times out is closed and the batch sent again on a new
	// one. Default 10s.
	Timeout time.Duration `json:"timeout"`
	// Batch sets when batches are cut and how failed writes are retried
	// (batch.retry; maxAttempts 0, the default, retries without limit).
	// Each flush uses a connection of its own. Defaults: count 500, bytes
	// 1 MiB (each event counts as its raw size plus 256), age 100ms,
	// parallelism 1 (one connection, messages in order), stopTimeout 5s.
	Batch batch.Config `json:"batch"`
}

// TLSConfig configures the client side of TLS.
type TLSConfig = store.TLS

// DefaultConfig returns a Config with every default set and no address.
func DefaultConfig() Config {
	return Config{Network: "udp", Compression: "auto", ChunkSize: 8192, Timeout: 10 * time.Second,
		Batch: batch.Config{Count: 500, Bytes: 1 << 20, Age: 100 * time.Millisecond, Parallelism: 1}}
}

// Validate checks the fields.
func (c *Config) Validate() error {
	var errs []error
	if c.ServiceAddr != "" {
		if _, port, err := net.SplitHostPort(c.ServiceAddr); err != nil || port == "" {
			errs = append(errs, &config.FieldError{Path: "serviceAddr", Msg: fmt.Sprintf("want host:port, got %q", c.ServiceAddr)})
		}
	}
	if c.Network != "udp" && c.Network != "tcp" {
		errs = append(errs, &config.FieldError{Path: "network", Msg: fmt.Sprintf("want udp or tcp, got %q", c.Network)})
	}
	if c.Compression != "auto" && c.Compression != "gzip" && c.Compression != "zlib" && c.Compression != "none" {
		errs = append(errs, &config.FieldError{Path: "compression", Msg: fmt.Sprintf("want auto, gzip, zlib or none, got %q", c.Compression)})
	}
	if c.ChunkSize < 512 || c.ChunkSize > 65467 {
		errs = append(errs, &config.FieldError{Path: "chunkSize", Msg: fmt.Sprintf("want 512 to 65467, got %d", c.ChunkSize)})
	}
	if c.TLS != nil {
		if c.Network != "tcp" {
			errs = append(errs, &config.FieldError{Path: "tls", Msg: fmt.Sprintf("only with network tcp, got %q", c.Network)})
		}
		if err := c.TLS.Check(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Timeout < 0 {
		errs = append(errs, config.Want("timeout", "0 or more", c.Timeout))
	}
	if err := c.Batch.Validate(); err != nil {
		errs = append(errs, config.Nest("batch", err)...)
	}
	return errors.Join(errs...)
}
