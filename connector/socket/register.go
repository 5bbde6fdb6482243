package socket

import (
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the "socket" destination to r.
func Register(r *daemon.Registry) {
	daemon.RegisterDestination(r, "socket", "events over TCP or TLS, one frame each (newline or RFC 6587 octet counting), to forward syslog; acked once written to the connection",
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
