package file

import (
	"errors"
	"fmt"
	"github.com/sluicehq/sluice/daemon/config"
	"path/filepath"
	"regexp"
	"time"
)

// SourceConfig configures a [Source], the "file" source.
type SourceConfig struct {
	// Paths are the glob patterns (filepath.Match syntax) of the files to
	// read. They are matched again every PollInterval, so files created
	// later are picked up. A file renamed to a name they do not match is
	// read to its end only if it was open when renamed: to keep the lines
	// written just before a rotation while sluiced is stopped, match the
	// rotated names too ("app.log*"). Required.
	Paths []string `json:"paths" sluice:"required"`
	// Exclude are glob patterns of files not to read, even if Paths
	// matches them. A pattern with a path separator is matched against
	// the whole path, one without against the file's base name. Default
	// none.
	Exclude []string `json:"exclude"`
	// StartAt is where to start reading the files found at the very
	// first start, when StateDir holds no checkpoint file yet: "end"
	// (only what is written from now on) or "beginning". It applies to
	// nothing else: once the checkpoint file exists, a file it does not
	// know is new and is read from its beginning, whether it was created
	// while sluiced ran or while it was stopped (such as the new app.log
	// of a rotation made during a restart). A new file is written to the
	// checkpoint file, fsynced, before any of its lines is handed on.
	// Default "end".
	StartAt string `json:"startAt"`
	// PollInterval is how often the globs are matched again and files are
	// checked for growth, truncation and rotation. Default 250ms.
	PollInterval time.Duration `json:"pollInterval"`
	// MaxLineBytes is the longest line kept in one event, in bytes. A
	// longer line is cut into events of this size, each but the last
	// flagged "split", in order: no byte is lost, and no piece is larger
	// than a disk buffer behind the source is checked to hold (a long
	// line is data, not an error, so it is not dead-lettered). Default
	// 1048576 (1 MiB).
	MaxLineBytes int `json:"maxLineBytes"`
	// Multiline, if set, joins lines into events: see [MultilineConfig].
	// Default unset: one event per line.
	Multiline *MultilineConfig `json:"multiline"`
	// StateDir holds the checkpoint file (checkpoints.json). Default
	// <dataDir>/state/<source name> in the daemon; required when the
	// source is built with [NewSource]. While the file cannot be written
	// (a read-only or full file system), the metric
	// sluice_errors_total{cause="checkpoint"} counts the failed writes,
	// /readyz answers 503 naming the source, and new files wait; all
	// recovers by itself once a write succeeds.
	StateDir string `json:"stateDir"`
	// CheckpointInterval is how often committed offsets (those of lines
	// delivered and acknowledged) are written to StateDir; they are also
	// written when the source stops and when a new file is found. After
	// a crash, what was acknowledged since the last write is read again:
	// at most one interval's worth. A failed write is tried again every
	// interval. Default 1s.
	CheckpointInterval time.Duration `json:"checkpointInterval"`
	// FingerprintBytes is how many bytes from the start of a file
	// identify it (see the Source doc). Default 1024.
	FingerprintBytes int `json:"fingerprintBytes"`
}

// MultilineConfig joins the lines of multi-line records, such as stack
// traces, into one event.
type MultilineConfig struct {
	// StartPattern is a regular expression (RE2). A line that matches it
	// starts a new event; any other line is appended to the event before,
	// after a newline. Required.
	StartPattern string `json:"startPattern" sluice:"required"`
	// Timeout emits a pending event when no line was added to it for this
	// long. Default 1s.
	Timeout time.Duration `json:"timeout"`
}

// DefaultSourceConfig returns a SourceConfig with every default set; the
// daemon adds the default StateDir.
func DefaultSourceConfig() SourceConfig {
	return SourceConfig{StartAt: "end", PollInterval: 250 * time.Millisecond, MaxLineBytes: 1 << 20,
		CheckpointInterval: time.Second, FingerprintBytes: 1024}
}

// Validate checks the fields that have a fixed set of values or a syntax.
func (c *SourceConfig) Validate() error {
	var errs []error
	if len(c.Paths) == 0 {
		errs = append(errs, &config.FieldError{Path: "paths", Msg: "required: at least one pattern"})
	}
	for _, l := range []struct {
		field string
		globs []string
	}{{"paths", c.Paths}, {"exclude", c.Exclude}} {
		for i, p := range l.globs {
			if _, err := filepath.Match(p, ""); err != nil {
				errs = append(errs, config.Want(fmt.Sprintf("%s[%d]", l.field, i), "a glob", p))
			}
		}
	}
	if c.StartAt != "end" && c.StartAt != "beginning" {
		errs = append(errs, config.Want("startAt", "end or beginning", c.StartAt))
	}
	if c.PollInterval <= 0 {
		errs = append(errs, config.Want("pollInterval", "more than 0", c.PollInterval))
	}
	if c.CheckpointInterval <= 0 {
		errs = append(errs, config.Want("checkpointInterval", "more than 0", c.CheckpointInterval))
	}
	if c.MaxLineBytes < 1 {
		errs = append(errs, config.Want("maxLineBytes", "at least 1", c.MaxLineBytes))
	}
	if c.FingerprintBytes < 1 {
		errs = append(errs, config.Want("fingerprintBytes", "at least 1", c.FingerprintBytes))
	}
	if m := c.Multiline; m != nil {
		if _, err := regexp.Compile(m.StartPattern); err != nil {
			errs = append(errs, &config.FieldError{Path: "multiline.startPattern", Msg: err.Error()})
		}
		if m.Timeout < 0 {
			errs = append(errs, config.Want("multiline.timeout", "0 or more", m.Timeout))
		}
	}
	return errors.Join(errs...)
}
