package store

import (
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the store destination typ to r: newDest builds it from
// its config (defaults from def) with the daemon's logger, dead letter
// and metrics. A write counts as flushed, sent and acked; events the store
// rejected itself count as acked under the error cause rejectCause.
func Register[C any, D sluice.Destination[event.Event]](r *daemon.Registry, typ, doc string, def func() C,
	newDest func(C, ...Option) (D, error), rejectCause string) {
	daemon.RegisterDestination(r, typ, doc,
		func() *C { c := def(); return &c },
		func(env daemon.Env, c *C) (sluice.Destination[event.Event], error) {
			m := env.Metrics
			d, err := newDest(*c, WithLogger(env.Logger), WithDeadLetter(env.DeadLetter), WithHooks(Hooks{
				Written: func(n, bytes int, d time.Duration) {
					m.Flushed(n, d)
					m.Out(n, bytes)
					m.Acked(n)
				},
				Rejected: func(n int) {
					m.Error(rejectCause)
					m.Acked(n) // acked once the dead letter has them
				},
				Failed: m.Error,
			}))
			if err != nil {
				return nil, err
			}
			return d, nil
		})
}
