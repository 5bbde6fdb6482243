package gelf

import (
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the "gelf" destination to r.
func Register(r *daemon.Registry) {
	daemon.RegisterDestination(r, "gelf", "events as GELF 1.1 messages to Graylog over UDP (compressed, chunked; delivery not confirmed) or TCP (NUL-framed); acked once written",
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
