package parse

import (
	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/internal/onerror"
)

// Register adds the "parse" handler to r. Events that do not parse are
// counted as parse failures of the handler, and those it drops as dropped
// with the cause "parse"; each failure is logged at debug level.
func Register(r *daemon.Registry) {
	daemon.RegisterHandler(r, "parse", "parses a field (the message by default) as json, logfmt, regex, csv, cri, docker or syslog into the event's fields",
		Defaults,
		func(env daemon.Env, c *Config) (sluice.Handler[event.Event, event.Event], error) {
			hooks, err := onerror.DaemonHooks(env, c.OnError, "parse")
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
