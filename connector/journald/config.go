package journald

import (
	"errors"
	"strings"
	"time"

	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/retry"
)

// Config configures a [Source]. Every field is optional: {"type":
// "journald"} follows the local journal from now on.
type Config struct {
	// Journalctl is the journalctl program, a name looked up in PATH or a
	// path. Default "journalctl".
	Journalctl string `json:"journalctl"`
	// Directory, if set, makes journalctl read the journal files in this
	// directory (--directory) instead of the system journal. Default ""
	// (the system journal).
	Directory string `json:"directory"`
	// Units, if set, keeps only the entries of these systemd units
	// (--unit, once per unit). Default: every entry.
	Units []string `json:"units"`
	// StartAt is where to start when no cursor was saved: "end" (only
	// entries written from now on) or "beginning" (every entry in the
	// journal). A saved cursor always wins. With "end", the first start
	// saves the cursor of the journal's last entry before it hands on
	// any entry, so a restart resumes there. Default "end".
	StartAt string `json:"startAt"`
	// StartTimeout bounds how long that first start at the end tries,
	// with Restart's back-off, to learn the journal's end from journalctl
	// (--lines=1): no entry is handed on meanwhile (/readyz answers 503
	// with journalctl's error), and past it the source fails (sluiced
	// stops) rather than start at a cursor it has not saved. Default 1m.
	StartTimeout time.Duration `json:"startTimeout"`
	// StateDir holds the saved cursor (the file "cursor"). Default
	// <dataDir>/state/<source name>.
	StateDir string `json:"stateDir"`
	// CheckpointInterval is how often the cursor of the entries delivered
	// so far is saved; it is saved at stop too. Default 1s.
	CheckpointInterval time.Duration `json:"checkpointInterval"`
	// Restart is the back-off between restarts of journalctl when it
	// exits, and between its tries to tell where the journal ends. Default: from 100ms, doubling, up to 30s.
	Restart retry.Policy `json:"restart"`
	// MaxEntryBytes is the largest entry taken, counted as the names and
	// values of its fields plus 8 bytes per field. A larger entry (such as
	// a core dump systemd-coredump stored in the journal) is not passed
	// on: it is marked delivered for the cursor, counted (dropped, cause
	// "oversize") and logged. Default 1048576 (1 MiB).
	MaxEntryBytes int `json:"maxEntryBytes"`
}

// DefaultConfig returns the defaults; StateDir is left empty, to be set
// from the daemon's data directory.
func DefaultConfig() Config {
	return Config{Journalctl: "journalctl", StartAt: "end", StartTimeout: time.Minute, CheckpointInterval: time.Second, MaxEntryBytes: 1 << 20}
}

// Validate reports fields out of range.
func (c *Config) Validate() error {
	var errs []error
	if c.StartAt != "end" && c.StartAt != "beginning" {
		errs = append(errs, config.Want("startAt", "end or beginning", c.StartAt))
	}
	if c.Journalctl == "" {
		errs = append(errs, config.Want("journalctl", "a program", c.Journalctl))
	}
	if c.StartTimeout <= 0 {
		errs = append(errs, config.Want("startTimeout", "more than 0", c.StartTimeout))
	}
	if c.CheckpointInterval <= 0 {
		errs = append(errs, config.Want("checkpointInterval", "more than 0", c.CheckpointInterval))
	}
	if c.MaxEntryBytes < 1 {
		errs = append(errs, config.Want("maxEntryBytes", "at least 1", c.MaxEntryBytes))
	}
	for _, u := range c.Units {
		if u == "" || strings.ContainsAny(u, "\n") {
			errs = append(errs, config.Want("units", "unit names, each on one line", u))
		}
	}
	if err := c.Restart.Validate(); err != nil {
		errs = append(errs, config.Nest("restart", err)...)
	}
	return errors.Join(errs...)
}

// args returns journalctl's arguments, resuming after cursor if it is not
// empty.
func (c *Config) args(cursor string) []string {
	args := []string{"--follow", "--output=export", "--all"}
	if c.Directory != "" {
		args = append(args, "--directory="+c.Directory)
	}
	switch {
	case cursor != "":
		args = append(args, "--after-cursor="+cursor, "--lines=all")
	case c.StartAt == "beginning":
		args = append(args, "--lines=all")
	default:
		args = append(args, "--lines=0")
	}
	for _, u := range c.Units {
		args = append(args, "--unit="+u)
	}
	return args
}
