package journald

import (
	"path/filepath"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the "journald" source to r.
func Register(r *daemon.Registry) {
	daemon.RegisterSource(r, "journald", "the systemd journal, read with journalctl; resumes from a saved cursor",
		func() *Config { c := DefaultConfig(); return &c },
		func(env daemon.Env, c *Config) (sluice.Source[event.Event], error) {
			cfg := *c
			if cfg.StateDir == "" {
				cfg.StateDir = filepath.Join(env.DataDir, "state", env.Name)
			}
			return New(cfg, env.Name, WithLogger(env.Logger), WithCounters(env.Metrics))
		})
}
