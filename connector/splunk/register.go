package splunk

import (
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the "splunk_hec" destination to r.
func Register(r *daemon.Registry) {
	daemon.RegisterDestination(r, "splunk_hec", "batches of events sent to a Splunk HTTP Event Collector; acked on 200, or with ackEnabled once /services/collector/ack confirms them",
		func() *Config { c := DefaultConfig(); return &c },
		func(env daemon.Env, c *Config) (sluice.Destination[event.Event], error) {
			m := env.Metrics
			return New(*c,
				WithLogger(env.Logger),
				WithDeadLetter(env.DeadLetter),
				WithHooks(Hooks{
					Sent: func(n, bytes int, d time.Duration) {
						m.Flushed(n, d)
						m.Out(n, bytes)
						m.Acked(n)
					},
					Failed: m.Error,
				}))
		})
}
