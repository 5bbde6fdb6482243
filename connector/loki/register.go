package loki

import (
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the "loki" destination to r.
func Register(r *daemon.Registry) {
	daemon.RegisterDestination(r, "loki", "batches of events pushed to Grafana Loki (push API, JSON), streams by label templates; acked on 2xx",
		func() *Config { c := DefaultConfig(); return &c },
		func(env daemon.Env, c *Config) (sluice.Destination[event.Event], error) {
			m := env.Metrics
			return New(*c, WithLogger(env.Logger), WithDeadLetter(env.DeadLetter), WithHooks(Hooks{
				Pushed: func(n, bytes int, d time.Duration) {
					m.Flushed(n, d)
					m.Out(n, bytes)
					m.Acked(n)
				},
				Rejected: func(n int) {
					m.Error("refused_entry")
					m.Acked(n) // acked once the dead letter has them
				},
				Failed: m.Error,
			}))
		})
}
