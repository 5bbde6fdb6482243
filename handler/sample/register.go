package sample

import (
	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the "sample" handler to r. Dropped events are counted with
// the cause "sample".
func Register(r *daemon.Registry) {
	daemon.RegisterHandler(r, "sample", "keeps about one event in rate, by a counter or, with a key, by a hash of the key's value",
		func() *Config { return &Config{} },
		func(env daemon.Env, c *Config) (sluice.Handler[event.Event, event.Event], error) {
			return New(c, func() { env.Metrics.Dropped("sample", 1) })
		})
}

var _ daemon.Selector = (*Handler)(nil)
