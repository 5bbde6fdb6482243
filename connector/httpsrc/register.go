package httpsrc

import (
	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the "http" source to r.
func Register(r *daemon.Registry) {
	daemon.RegisterSource(r, "http", "HTTP webhook receiver: NDJSON, JSON or lines, answered 2xx once every event is acknowledged",
		func() *Config { c := DefaultConfig(); return &c },
		func(env daemon.Env, c *Config) (sluice.Source[event.Event], error) {
			return New(*c, env.Name, WithLogger(env.Logger), WithCounters(env.Metrics))
		})
}

// The daemon waits for the listener before it logs "running" and asks
// it whether it is ready.
var (
	_ daemon.Binder     = (*Source)(nil)
	_ daemon.NotReadier = (*Source)(nil)
)
