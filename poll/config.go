package poll

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluicehq/sluice/retry"
)

// Defaults for the zero fields of a [Config].
const (
	DefaultInterval = time.Second
	DefaultMax      = 100
)

// Config configures a [Source]. Every field is optional: the zero Config
// is valid and uses the defaults.
type Config struct {
	// Interval is how long to wait after a poll that returned no message
	// before polling again. Default 1s ([DefaultInterval]).
	Interval time.Duration `json:"interval"`
	// Max is the most messages one poll asks for; it is passed to
	// [Poller.Poll]. Default 100 ([DefaultMax]).
	Max int `json:"max"`
	// Retry is the back-off between polls that fail with a retryable
	// error (see [sluice.IsRetryable]), and how many may fail in a row
	// before Recv returns the error. Default: from 100ms, doubling, up to
	// 30s, with full jitter, without limit; see [retry.Policy].
	Retry retry.Policy `json:"retry"`
}

// Validate reports every field that is out of range.
func (c Config) Validate() error {
	var errs []error
	if c.Interval < 0 {
		errs = append(errs, fmt.Errorf("interval %v is negative", c.Interval))
	}
	if c.Max < 0 {
		errs = append(errs, fmt.Errorf("max %d is negative", c.Max))
	}
	errs = append(errs, retry.Under("retry", c.Retry.Validate())...)
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Max == 0 {
		c.Max = DefaultMax
	}
	return c
}

// Option configures a [Source] with what does not belong in a [Config].
type Option func(*options)

type options struct {
	logger *slog.Logger
}

// WithLogger sets the logger that retried poll errors are reported to, at
// Warn. The default discards everything; nil keeps the default.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}
