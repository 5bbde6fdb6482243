package webhook

import (
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the "http" and "runreveal" destinations to r.
func Register(r *daemon.Registry) {
	daemon.RegisterDestination(r, "http", "batches of events POSTed to a URL as NDJSON or a JSON array, optionally gzipped; acked on 2xx",
		func() *Config { c := DefaultConfig(); return &c },
		func(env daemon.Env, c *Config) (sluice.Destination[event.Event], error) {
			return New(*c, envOptions(env)...)
		})
	daemon.RegisterDestination(r, "runreveal", "batches of events POSTed to a RunReveal webhook (kawa/reveald config); acked on 2xx",
		func() *RunRevealConfig { c := DefaultRunRevealConfig(); return &c },
		func(env daemon.Env, c *RunRevealConfig) (sluice.Destination[event.Event], error) {
			return NewRunReveal(*c, envOptions(env)...)
		})
}

func envOptions(env daemon.Env) []Option {
	m := env.Metrics
	return []Option{
		WithLogger(env.Logger),
		WithDeadLetter(env.DeadLetter),
		WithHooks(Hooks{
			Posted: func(n, bytes int, d time.Duration) {
				m.Flushed(n, d)
				m.Out(n, bytes)
				m.Acked(n)
			},
			Failed: m.Error,
		}),
	}
}
