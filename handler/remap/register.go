package remap

import (
	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/internal/onerror"
)

// Register adds the "remap" handler to r. Events the expression fails on
// are counted as errors of cause "remap", and those it drops as dropped
// with that cause; each failure is logged at debug level.
func Register(r *daemon.Registry) {
	daemon.RegisterHandler(r, "remap", "sets, renames and deletes fields with an expr-lang expression that returns a map of field names to values (nil deletes)",
		Defaults,
		func(env daemon.Env, c *Config) (sluice.Handler[event.Event, event.Event], error) {
			hooks, err := onerror.DaemonHooks(env, c.OnError, "remap")
			if err != nil {
				return nil, err
			}
			h, err := New(c, hooks)
			if err != nil {
				return nil, err
			}
			return h, nil
		})
}
