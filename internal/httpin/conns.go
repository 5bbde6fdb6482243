package httpin

import (
	"bytes"
	"log"
	"log/slog"
	"net"
	"time"

	"github.com/sluicehq/sluice/internal/connlimit"
	"github.com/sluicehq/sluice/internal/lograte"
)

// Limit bounds ln to max connections (see [connlimit]): each refused or
// evicted one is counted through count ("too_many_connections",
// "evicted") and logged at WARN through lim, at most once per interval.
func Limit(ln net.Listener, max int, log *slog.Logger, lim *lograte.Limiter, count func(cause string)) *connlimit.Listener {
	cl := connlimit.New(ln, max)
	cl.Refused = func(remote net.Addr) {
		count("too_many_connections")
		lim.Log(log, slog.LevelWarn, "connection refused: maxConnections reached and every connection has a request in progress",
			"remote", remote.String(), "maxConnections", max)
	}
	cl.Evicted = func(remote net.Addr, idle time.Duration) {
		count("evicted")
		lim.Log(log, slog.LevelWarn, "connection closed to make room for a new one: maxConnections reached",
			"remote", remote.String(), "waited", idle.Round(time.Millisecond).String(), "maxConnections", max)
	}
	return cl
}

// ErrorLog is an http.Server's ErrorLog: net/http's own messages at
// DEBUG, except that a failed TLS handshake (a client that is not TLS,
// does not trust the certificate, or stalls past the server's timeouts)
// is counted as "tls_handshake" and logged at WARN through lim, at most
// once per interval.
func ErrorLog(l *slog.Logger, lim *lograte.Limiter, count func(cause string)) *log.Logger {
	return log.New(errorLog{l, lim, count}, "", 0)
}

type errorLog struct {
	l     *slog.Logger
	lim   *lograte.Limiter
	count func(string)
}

func (e errorLog) Write(p []byte) (int, error) {
	msg := string(bytes.TrimSpace(p))
	if rest, ok := bytes.CutPrefix(p, []byte("http: TLS handshake error from ")); ok {
		e.count("tls_handshake")
		e.lim.Log(e.l, slog.LevelWarn, "TLS handshake failed", "detail", string(bytes.TrimSpace(rest)))
		return len(p), nil
	}
	e.l.Debug(msg)
	return len(p), nil
}
