package nginx

import (
	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Config configures the nginx handler; it has no settings.
type Config struct{}

// Register adds the "nginx" handler to r. Lines that do not parse are
// counted as parse failures of the handler.
func Register(r *daemon.Registry) {
	daemon.RegisterHandler(r, "nginx", "parses nginx access log lines (combined or JSON) into the event's http fields",
		func() *Config { return &Config{} },
		func(env daemon.Env, _ *Config) (sluice.Handler[event.Event, event.Event], error) {
			return New(func() { env.Metrics.ParseFailed(1) }), nil
		})
}
