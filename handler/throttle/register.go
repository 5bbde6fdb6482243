package throttle

import (
	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the "throttle" handler to r. Dropped events are counted
// with the cause "throttle".
func Register(r *daemon.Registry) {
	daemon.RegisterHandler(r, "throttle", "lets at most rate events through (per key, if set) and drops the rest",
		Defaults,
		func(env daemon.Env, c *Config) (sluice.Handler[event.Event, event.Event], error) {
			return New(c, func() { env.Metrics.Dropped("throttle", 1) }, nil)
		})
}

var _ daemon.Selector = (*Handler)(nil)
