package syslog

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sluicehq/sluice/daemon/config"
)

// Config configures a [Source]. The names of addr and contentType are the
// kawa daemon's.
type Config struct {
	// Addr is host:port to listen on, or a socket path for the unix
	// networks. Default "127.0.0.1:5514". sluiced logs "running" only
	// once every network's socket is bound; one that cannot be (in use,
	// a port below 1024 without CAP_NET_BIND_SERVICE) fails the start,
	// naming sources.<name>.addr, the network and the address.
	Addr string `json:"addr"`
	// Network is "udp", "tcp", "udp+tcp", "unix" (stream) or "unixgram".
	// With a tls block, tcp connections are TLS. Default "udp+tcp".
	Network string `json:"network"`
	// ContentType is copied into each event's contentType, for
	// destinations that route by it. Default "" (none).
	ContentType string `json:"contentType"`
	// Format is "auto" (each message is detected: RFC 5424 if it starts
	// with "<PRI>1 ", else RFC 3164), "rfc5424", "rfc3164", or "none":
	// frames are passed on as raw lines, unparsed, for a destination that
	// writes them as they came (format "raw"). Default "auto".
	Format string `json:"format"`
	// Timezone of RFC 3164 timestamps, which carry none: an IANA name or
	// "Local". Default "Local".
	Timezone string `json:"timezone"`
	// MaxMessageBytes is the largest message kept whole; a longer one is
	// truncated, flagged "truncated" and counted. Default 65536.
	MaxMessageBytes int `json:"maxMessageBytes"`
	// MaxConnections is the most stream connections at once. A new
	// connection beyond it evicts the one that has waited longest for
	// data (logged, counted as errors{cause="evicted"}); only if every
	// connection is busy (sluiced is pushing back on them all) is the new
	// one closed at once (counted as "too_many_connections"). Default 1024.
	MaxConnections int `json:"maxConnections"`
	// IdleTimeout closes a stream connection that sent nothing for this
	// long (logged, counted as errors{cause="idle_timeout"}): senders that
	// crashed, or left half-open sockets. A sender that logs more rarely
	// than this reconnects each time. Default 10m; it cannot be turned off,
	// set a long one instead.
	IdleTimeout time.Duration `json:"idleTimeout"`
	// ReadBufferBytes is the UDP socket's receive buffer: what holds
	// datagrams that arrive while sluiced is busy. The kernel uses it only
	// while datagrams wait. Where sluiced may (CAP_NET_ADMIN, as root), it
	// is set past net.core.rmem_max (SO_RCVBUFFORCE, as rsyslog does);
	// otherwise the kernel caps it there, and sluiced logs at INFO the
	// size the socket has and the sysctl command that raises the cap.
	// Default 16777216 (16 MiB: at 480k datagrams/s, 4 MiB lost 1.5% of
	// them to short stalls in the benchmark's P5, 16 MiB none).
	ReadBufferBytes int `json:"readBufferBytes"`
	// QueueSize is how many received messages wait between the reading
	// goroutines and the pipeline. When it is full, reading stops: stream
	// senders are pushed back, datagrams wait in the socket's buffer. Under
	// load it is full, and each waiting message holds its bytes and some
	// 200 more: a deeper queue costs memory, and pays only where the
	// pipeline is fast and uneven (the benchmark's tuned profile, fsync
	// off, sets 4096: 0.91x the lines/s with 1024 on a quiet machine, for
	// 5 MiB less peak RSS). Default 1024; at most 65536. Passthrough
	// over streams (format none, to a destination that takes runs of
	// lines) queues whole reads instead, and does not use it.
	QueueSize int `json:"queueSize"`
	// TLS, if set, makes tcp connections TLS. A client has 10s (or
	// idleTimeout, if shorter) to finish its handshake; then, or if it
	// fails, the connection is closed (counted as
	// errors{cause="tls_handshake"}).
	TLS *TLSConfig `json:"tls"`
}

// TLSConfig holds the files of a TLS listener.
type TLSConfig struct {
	// CertFile is the server certificate (PEM). Required.
	CertFile string `json:"certFile" sluice:"required"`
	// KeyFile is its private key (PEM). Required.
	KeyFile string `json:"keyFile" sluice:"required"`
	// ClientCAFile, if set, requires clients to present a certificate
	// signed by one of these CAs (PEM).
	ClientCAFile string `json:"clientCAFile"`
}

// maxQueueSize bounds QueueSize: 256 RecvBatches, some 25 MiB of frames
// and the messages they hold at 200-byte messages, far past any depth
// that measured faster.
const maxQueueSize = 1 << 16

// DefaultConfig returns the defaults. QueueSize is 1024 (four RecvBatches),
// not 4096: under load the queue is full, and its frames and the read
// buffers they keep alive were some 2.5 MB of the live heap, which the
// collector (GOGC 200 then) let grow threefold before it ran; at 1024 the
// benchmark's p1 peak RSS with the defaults fell 37 → 29 MiB at the same
// lines/s.
func DefaultConfig() Config {
	return Config{Addr: "127.0.0.1:5514", Network: "udp+tcp", Format: "auto", Timezone: "Local",
		MaxMessageBytes: 64 << 10, MaxConnections: 1024, IdleTimeout: 10 * time.Minute, ReadBufferBytes: 16 << 20,
		QueueSize: 1024}
}

// Validate checks the fields with a fixed set of values or a range.
func (c *Config) Validate() error {
	var errs []error
	field := func(path, msg string) { errs = append(errs, &config.FieldError{Path: path, Msg: msg}) }
	if !slices.Contains([]string{"udp", "tcp", "udp+tcp", "unix", "unixgram"}, c.Network) {
		field("network", fmt.Sprintf("want udp, tcp, udp+tcp, unix or unixgram, got %q", c.Network))
	}
	if !slices.Contains([]string{"auto", "rfc5424", "rfc3164", "none"}, c.Format) {
		field("format", fmt.Sprintf("want auto, rfc5424, rfc3164 or none, got %q", c.Format))
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		field("timezone", err.Error())
	}
	if c.Addr == "" {
		field("addr", "required")
	}
	if c.MaxMessageBytes < 480 {
		field("maxMessageBytes", fmt.Sprintf("want at least 480 (RFC 5424), got %d", c.MaxMessageBytes))
	}
	if c.MaxConnections < 1 {
		field("maxConnections", fmt.Sprintf("want at least 1, got %d", c.MaxConnections))
	}
	if c.IdleTimeout < 0 {
		field("idleTimeout", fmt.Sprintf("want 0 or more, got %v", c.IdleTimeout))
	}
	if c.ReadBufferBytes < 0 {
		field("readBufferBytes", fmt.Sprintf("want 0 or more, got %d", c.ReadBufferBytes))
	}
	if c.QueueSize < 1 || c.QueueSize > maxQueueSize {
		field("queueSize", fmt.Sprintf("want 1 to %d, got %d", maxQueueSize, c.QueueSize))
	}
	if c.TLS != nil && c.Network != "tcp" && c.Network != "udp+tcp" {
		field("tls", fmt.Sprintf("needs network tcp or udp+tcp, got %q", c.Network))
	}
	return errors.Join(errs...)
}
