package filter

import (
	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the "drop" and "keep" handlers to r. Dropped events are
// counted with the cause "filter"; events the condition fails on are kept,
// counted as errors of cause "filter" and logged.
func Register(r *daemon.Registry) {
	for _, keep := range []bool{false, true} {
		typ, doc := "drop", "drops the events for which the condition \"if\" holds"
		if keep {
			typ, doc = "keep", "keeps only the events for which the condition \"if\" holds"
		}
		daemon.RegisterHandler(r, typ, doc,
			func() *Config { return &Config{} },
			func(env daemon.Env, c *Config) (sluice.Handler[event.Event, event.Event], error) {
				return New(c.If, keep, func() { env.Metrics.Dropped("filter", 1) }, func(err error) {
					env.Metrics.Error("filter")
					env.Logger.Warn("condition failed: event kept", "err", err)
				})
			})
	}
}
