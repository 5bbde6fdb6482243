package otlp

import (
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the "otlp" source and destination to r.
func Register(r *daemon.Registry) {
	daemon.RegisterSource(r, "otlp", "OpenTelemetry logs over OTLP/gRPC and OTLP/HTTP, answered OK once every record is acknowledged",
		func() *SourceConfig { c := DefaultSourceConfig(); return &c },
		func(env daemon.Env, c *SourceConfig) (sluice.Source[event.Event], error) {
			return NewSource(*c, env.Name, WithLogger(env.Logger), WithCounters(env.Metrics))
		})
	daemon.RegisterDestination(r, "otlp", "batches of events sent as OTLP logs over gRPC or HTTP; acked on OK",
		func() *DestinationConfig { c := DefaultDestinationConfig(); return &c },
		func(env daemon.Env, c *DestinationConfig) (sluice.Destination[event.Event], error) {
			m := env.Metrics
			return NewDestination(*c, WithDestinationLogger(env.Logger), WithDeadLetter(env.DeadLetter),
				WithHooks(Hooks{
					Sent: func(n, bytes int, d time.Duration) {
						m.Flushed(n, d)
						m.Out(n, bytes)
						m.Acked(n)
					},
					Failed: m.Error,
				}))
		})
}

// The daemon waits for the listeners before it logs "running" and asks
// the source whether it is ready.
var (
	_ daemon.Binder     = (*Source)(nil)
	_ daemon.NotReadier = (*Source)(nil)
)
