package kafka

import (
	"path/filepath"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the "kafka" source and destination to r. The source keeps
// its static membership instance id in the data directory, under
// kafka/<name>.instance-id.
func Register(r *daemon.Registry) {
	daemon.RegisterSource(r, "kafka", "records of Kafka topics, consumed in a consumer group; offsets committed up to the contiguous acked watermark of each partition",
		func() *SourceConfig { c := DefaultSourceConfig(); return &c },
		func(env daemon.Env, c *SourceConfig) (sluice.Source[event.Event], error) {
			m := env.Metrics
			return NewSource(*c,
				WithName(env.Name),
				WithSourceLogger(env.Logger),
				WithInstanceIDFile(filepath.Join(env.DataDir, "kafka", env.Name+".instance-id")),
				WithSourceHooks(SourceHooks{
					Dropped:  func(n int) { m.Dropped("revoked", n) },
					Failed:   m.Error,
					Oversize: func() { m.Dropped("oversize", 1) },
				}))
		})
	daemon.RegisterDestination(r, "kafka", "events produced to a Kafka topic, one record each, idempotent producer; acked when the brokers acknowledge (acks)",
		func() *DestinationConfig { c := DefaultDestinationConfig(); return &c },
		func(env daemon.Env, c *DestinationConfig) (sluice.Destination[event.Event], error) {
			m := env.Metrics
			return NewDestination(*c,
				WithDestinationLogger(env.Logger),
				WithDeadLetter(env.DeadLetter),
				WithDestinationHooks(DestinationHooks{
					Acked: func(n, bytes int, d time.Duration) {
						m.Flushed(n, d)
						m.Out(n, bytes)
						m.Acked(n)
					},
					Rejected: func(cause string) { m.Dropped(cause, 1) },
					Failed:   m.Error,
				}))
		})
}
