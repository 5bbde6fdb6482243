package dedupe

import (
	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the "dedupe" handler to r. Dropped repeats are counted
// with the cause "dedupe".
func Register(r *daemon.Registry) {
	daemon.RegisterHandler(r, "dedupe", "drops an event whose fields' values were seen among the last window distinct events",
		Defaults,
		func(env daemon.Env, c *Config) (sluice.Handler[event.Event, event.Event], error) {
			return New(c, func() { env.Metrics.Dropped("dedupe", 1) })
		})
}

var _ daemon.Selector = (*Handler)(nil)
