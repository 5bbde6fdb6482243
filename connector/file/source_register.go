package file

import (
	"path/filepath"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// RegisterSource adds the "file" source to r. Its default stateDir is
// <dataDir>/state/<source name>.
func RegisterSource(r *daemon.Registry) {
	daemon.RegisterSource(r, "file", "tail files by glob, following rotation; offsets checkpointed after delivery",
		func() *SourceConfig { c := DefaultSourceConfig(); return &c },
		func(env daemon.Env, c *SourceConfig) (sluice.Source[event.Event], error) {
			cfg := *c
			if cfg.StateDir == "" {
				cfg.StateDir = filepath.Join(env.DataDir, "state", env.Name)
			}
			return NewSource(cfg, env.Name, WithSourceLogger(env.Logger), WithSourceCounters(env.Metrics))
		})
}
