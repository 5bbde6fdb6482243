package nats

import (
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the "nats" source and destination to r.
func Register(r *daemon.Registry) {
	daemon.RegisterSource(r, "nats", "NATS JetStream durable pull consumer; each message is acked to the server once delivered (AckExplicit)",
		func() *SourceConfig { c := DefaultSourceConfig(); return &c },
		func(env daemon.Env, c *SourceConfig) (sluice.Source[event.Event], error) {
			return NewSource(*c, env.Name, envOptions(env)...)
		})
	daemon.RegisterDestination(r, "nats", "NATS JetStream publisher to one subject; acked once the stream acknowledged every publish (PubAck)",
		func() *DestinationConfig { c := DefaultDestinationConfig(); return &c },
		func(env daemon.Env, c *DestinationConfig) (sluice.Destination[event.Event], error) {
			return NewDestination(*c, env.Name, envOptions(env)...)
		})
}

func envOptions(env daemon.Env) []Option {
	m := env.Metrics
	return []Option{
		WithLogger(env.Logger),
		WithDeadLetter(env.DeadLetter),
		WithHooks(Hooks{
			Dropped: m.Dropped,
			Failed:  m.Error,
			Published: func(n, bytes int, d time.Duration) {
				m.Flushed(n, d)
				m.Out(n, bytes)
				m.Acked(n)
			},
		}),
	}
}
