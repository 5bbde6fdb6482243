package mqtt

import (
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the "mqtt" source and destination to r.
func Register(r *daemon.Registry) {
	daemon.RegisterSource(r, "mqtt", "MQTT 3.1.1 subscriber with a persistent session; each message is acknowledged to the broker (PUBACK, in order) once delivered",
		func() *SourceConfig { c := DefaultSourceConfig(); return &c },
		func(env daemon.Env, c *SourceConfig) (sluice.Source[event.Event], error) {
			return NewSource(*c, env.Name, envOptions(env)...)
		})
	daemon.RegisterDestination(r, "mqtt", "MQTT 3.1.1 publisher to one topic; acked once the broker acknowledged every publish (PUBACK at QoS 1)",
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
