package elasticsearch

import (
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the "elasticsearch" destination to r.
func Register(r *daemon.Registry) {
	daemon.RegisterDestination(r, "elasticsearch", "batches of events written to Elasticsearch or OpenSearch with _bulk; items acked when stored, retried on 429/5xx, dead-lettered when rejected",
		func() *Config { c := DefaultConfig(); return &c },
		func(env daemon.Env, c *Config) (sluice.Destination[event.Event], error) {
			m := env.Metrics
			return New(*c,
				WithLogger(env.Logger),
				WithDeadLetter(env.DeadLetter),
				WithHooks(Hooks{
					Written: func(n, bytes int, d time.Duration) {
						m.Flushed(n, d)
						m.Out(n, bytes)
						m.Acked(n)
					},
					Failed: m.Error,
				}))
		})
}
