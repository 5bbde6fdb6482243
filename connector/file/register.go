package file

import (
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the "file" destination to r.
func Register(r *daemon.Registry) {
	daemon.RegisterDestination(r, "file", "NDJSON (or raw lines) to a file, fsynced per batch, rotated by size and age",
		func() *Config { c := DefaultConfig(""); return &c },
		func(env daemon.Env, c *Config) (sluice.Destination[event.Event], error) {
			return New(*c, WithLogger(env.Logger), WithFlushed(func(n, bytes int, d time.Duration) {
				env.Metrics.Flushed(n, d)
				env.Metrics.Out(n, bytes)
				env.Metrics.Acked(n)
			}))
		})
}
