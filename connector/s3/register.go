package s3

import (
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the "s3" destination to r. A batch that fails permanently
// goes to the destination's "deadLetter" if it has one; otherwise it stops
// the daemon.
func Register(r *daemon.Registry) {
	daemon.RegisterDestination(r, "s3", "compressed NDJSON objects in S3 (or R2, MinIO), keyed by event time and content hash",
		func() *Config { c := DefaultConfig(""); return &c },
		func(env daemon.Env, c *Config) (sluice.Destination[event.Event], error) {
			return New(*c,
				WithLogger(env.Logger),
				WithDeadLetter(env.DeadLetter),
				WithFailed(env.Metrics.Error),
				WithFlushed(func(n, bytes int, d time.Duration) {
					env.Metrics.Flushed(n, d)
					env.Metrics.Out(n, bytes)
					env.Metrics.Acked(n)
				}))
		})
}
