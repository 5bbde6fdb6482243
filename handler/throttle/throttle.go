// Package throttle provides the "throttle" handler: it lets through at
// most Rate events (per key, if one is set), with bursts of up to Burst,
// and drops and counts the rest. It uses golang.org/x/time/rate's token
// bucket.
//
// Each key has its own bucket. At most MaxKeys buckets are kept; when a new
// key needs one past that, the bucket of the least recently seen key is
// forgotten, and that key starts again with a full bucket if it comes
// back. Events without the key share one bucket (the key "").
package throttle

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/fieldpath"
)

// Config configures a throttle handler.
type Config struct {
	// Rate is how many events may pass per period: "N/s", "N/m", "N/h" or
	// "N/DURATION" (such as "100/10s"), N a positive integer. Required.
	Rate string `json:"rate" sluice:"required"`
	// Burst is how many events may pass at once after a quiet spell: the
	// size of the bucket. Default: N of Rate.
	Burst int `json:"burst"`
	// Key, if set, is the field whose value has its own limit, a path as
	// for parse's field (such as host or fields.tenant). Default none: one limit for all.
	Key string `json:"key"`
	// MaxKeys bounds the keys with a bucket, the least recently seen
	// forgotten first. Default 10000.
	MaxKeys int `json:"maxKeys"`
}

// Defaults returns a Config with the defaults filled in.
func Defaults() *Config { return &Config{MaxKeys: 10000} }

// Handler throttles events. It is safe for concurrent use and allocates
// nothing in Select, but for a key it has not seen (or has forgotten).
type Handler struct {
	limit rate.Limit
	burst int
	key   fieldpath.Getter
	one   *rate.Limiter // without a key
	keys  *lru.Cache[string, *rate.Limiter]
	now   func() time.Time
	drop  func()
}

// New checks c and returns a handler that calls dropped, if not nil, for
// each event it drops, and reads the time from now (time.Now if nil).
func New(c *Config, dropped func(), now func() time.Time) (*Handler, error) {
	n, per, err := ParseRate(c.Rate)
	if err != nil {
		return nil, fmt.Errorf("rate: %w", err)
	}
	burst := c.Burst
	switch {
	case burst == 0:
		burst = n
	case burst < 0:
		return nil, fmt.Errorf("burst: want 1 or more, got %d", c.Burst)
	}
	if now == nil {
		now = time.Now
	}
	h := &Handler{limit: rate.Limit(float64(n) / per.Seconds()), burst: burst, now: now, drop: dropped}
	if c.Key == "" {
		h.one = rate.NewLimiter(h.limit, burst)
		return h, nil
	}
	if h.key, err = fieldpath.Compile(c.Key); err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	if c.MaxKeys < 1 {
		return nil, fmt.Errorf("maxKeys: want 1 or more, got %d", c.MaxKeys)
	}
	if h.keys, err = lru.New[string, *rate.Limiter](c.MaxKeys); err != nil {
		return nil, fmt.Errorf("maxKeys: %w", err)
	}
	return h, nil
}

// ParseRate parses "N/s", "N/m", "N/h" or "N/DURATION".
func ParseRate(s string) (n int, per time.Duration, err error) {
	num, unit, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, fmt.Errorf(`want "N/s", "N/m", "N/h" or "N/DURATION", got %q`, s)
	}
	if n, err = strconv.Atoi(num); err != nil || n < 1 {
		return 0, 0, fmt.Errorf("want a positive whole number of events before /, got %q", num)
	}
	switch unit {
	case "s":
		per = time.Second
	case "m":
		per = time.Minute
	case "h":
		per = time.Hour
	default:
		if per, err = time.ParseDuration(unit); err != nil || per <= 0 {
			return 0, 0, fmt.Errorf("want s, m, h or a positive duration after /, got %q", unit)
		}
	}
	return n, per, nil
}

// Handle returns msg if it may pass, nothing if not (the processor then
// acks it). It never fails.
func (h *Handler) Handle(ctx context.Context, msg sluice.Message[event.Event]) ([]sluice.Message[event.Event], error) {
	if ok, _ := h.Select(ctx, &msg.Value); !ok {
		return nil, nil
	}
	return []sluice.Message[event.Event]{msg}, nil
}

// Select reports whether e may pass, counting it if not. It never fails.
func (h *Handler) Select(_ context.Context, e *event.Event) (bool, error) {
	l := h.one
	if l == nil {
		k, _ := h.key(e)
		var ok bool
		if l, ok = h.keys.Get(k); !ok {
			// k may point into the event's raw bytes: keep a copy of its own.
			fresh := rate.NewLimiter(h.limit, h.burst)
			if prev, found, _ := h.keys.PeekOrAdd(strings.Clone(k), fresh); found {
				l = prev // another goroutine added it first
			} else {
				l = fresh
			}
		}
	}
	if l.AllowN(h.now(), 1) {
		return true, nil
	}
	if h.drop != nil {
		h.drop()
	}
	return false, nil
}

var _ sluice.Handler[event.Event, event.Event] = (*Handler)(nil)
