// Package lograte keeps the log lines a client can cause (a refused
// connection, a timeout, a broken frame) from flooding the log: each
// message is written at most once per interval, and the next one written
// says how many like it were left out ("suppressed"). The counters in
// /metrics count every one.
package lograte

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Every is the interval sources use: one line of a kind per 10 seconds.
const Every = 10 * time.Second

// Limiter writes each message at most once per interval. Safe for
// concurrent use; the zero value is not usable, use [New].
type Limiter struct {
	every time.Duration
	now   func() time.Time

	mu    sync.Mutex
	kinds map[string]*kind
}

type kind struct {
	last time.Time // when a line of the kind was last written
	left int       // lines not written since
}

// New returns a Limiter that writes a message at most once per every.
func New(every time.Duration) *Limiter {
	return &Limiter{every: every, now: time.Now, kinds: map[string]*kind{}}
}

// Log writes msg and args at level to l, unless a line with the same msg
// was written less than the interval ago: then it only counts it. A line
// written after some were left out carries "suppressed" with their number.
func (r *Limiter) Log(l *slog.Logger, level slog.Level, msg string, args ...any) {
	if !l.Enabled(context.Background(), level) {
		return
	}
	now := r.now()
	r.mu.Lock()
	k := r.kinds[msg]
	if k == nil {
		k = &kind{}
		r.kinds[msg] = k
	} else if now.Sub(k.last) < r.every {
		k.left++
		r.mu.Unlock()
		return
	}
	k.last, args = now, appendSuppressed(args, k.left)
	k.left = 0
	r.mu.Unlock()
	l.Log(context.Background(), level, msg, args...)
}

func appendSuppressed(args []any, n int) []any {
	if n == 0 {
		return args
	}
	return append(args[:len(args):len(args)], "suppressed", n)
}
