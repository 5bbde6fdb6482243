package clickhouse

import (
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the "clickhouse" destination to r.
func Register(r *daemon.Registry) {
	daemon.RegisterDestination(r, "clickhouse", "batches of events INSERTed into a ClickHouse table over HTTP (JSONEachRow, gzip); acked when the INSERT succeeded",
		func() *Config { c := DefaultConfig(); return &c },
		func(env daemon.Env, c *Config) (sluice.Destination[event.Event], error) {
			m := env.Metrics
			return New(*c, WithLogger(env.Logger), WithDeadLetter(env.DeadLetter), WithHooks(Hooks{
				Inserted: func(n, bytes int, d time.Duration) {
					m.Flushed(n, d)
					m.Out(n, bytes)
					m.Acked(n)
				},
				Rejected: func(n int) {
					m.Error("rejected_row")
					m.Acked(n) // acked once the dead letter has them
				},
				Failed: m.Error,
			}))
		})
}
