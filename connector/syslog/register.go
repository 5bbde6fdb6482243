package syslog

import (
	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the "syslog" source to r.
func Register(r *daemon.Registry) {
	daemon.RegisterSource(r, "syslog", "syslog over UDP, TCP, TLS or unix sockets; RFC 5424 and RFC 3164",
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
