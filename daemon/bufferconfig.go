package daemon

import (
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/spool"
)

// BufferConfig is the "buffer" of a destination or a route: what holds
// events between the sources and the destination.
//
// "memory" (the default) is the destination's own in-memory batching: an
// event is acknowledged to its source once the destination has written
// it, so a source that cannot replay (syslog, http, stdin) loses what was
// in flight if sluiced crashes.
//
// "disk" puts a spool in front: an event is acknowledged to its source as
// soon as it is fsynced to the spool (one fsync per group of batches), and
// the destination reads the spool in order. A crash, a restart or a
// destination outage then loses nothing acknowledged: the spool replays
// what the destination had not acknowledged. When the spool's file system
// is full, its sources are held back (as when the spool holds maxBytes)
// while it goes on delivering; /readyz and sluice_spool_no_space say so.
type BufferConfig struct {
	// Type is "memory" or "disk". Default "memory".
	Type string `json:"type"`
	// Dir is the spool's directory. Default "<dataDir>/spool/<name>",
	// where name is the destination's or the route's.
	Dir string `json:"dir"`
	// MaxBytes bounds the spool's files on disk. Default 1073741824
	// (1 GiB).
	MaxBytes int64 `json:"maxBytes"`
	// SegmentBytes is the size of one spool file; a file is deleted once
	// the destination has acknowledged all of it. Default the smaller of
	// 67108864 (64 MiB) and maxBytes/2. One event must fit a file: the
	// config is refused if a source in front may make an event larger
	// (such as an http source's maxBodyBytes, or twice a syslog source's
	// maxMessageBytes, plus 8 KiB). An event that is larger anyway (a
	// handler made it grow) goes around the spool, straight to the
	// destination, and is acknowledged once written there; it is counted
	// in sluice_errors_total{cause="tooLarge"}.
	SegmentBytes int64 `json:"segmentBytes"`
	// WhenFull is what happens to new events when the spool holds
	// maxBytes: "block" waits for room, which slows the sources down
	// (TCP and HTTP senders wait or are told to retry; UDP datagrams the
	// kernel then drops are counted); "dropNewest" drops them, counts them
	// in sluice_spool_dropped_records_total and logs a warning.
	// Default "block".
	WhenFull string `json:"whenFull"`
	// Sync is "batch": events are acknowledged once fsynced, so that not
	// even a power loss loses an acknowledged event; or "interval": they
	// are acknowledged once written to the spool file, which survives a
	// crash of sluiced but not of the machine: on power loss, events
	// acknowledged within the last syncInterval plus one fsync's duration
	// may be lost. Default "batch".
	Sync string `json:"sync"`
	// SyncInterval is the fsync period of sync "interval". Default 100ms.
	SyncInterval time.Duration `json:"syncInterval"`
	// CheckpointInterval is how often the position of what the
	// destination acknowledged is saved (also on stop, and before a spool
	// file is deleted). After a crash, what was acknowledged since the last
	// save is delivered again: a shorter interval means fewer duplicates
	// and more small writes. Default 100ms.
	CheckpointInterval time.Duration `json:"checkpointInterval"`
	// BatchCount is the most events written to the spool at once.
	// Default 1024.
	BatchCount int `json:"batchCount"`
	// BatchAge is how long events wait to be written with others; Sends
	// that wait at the same moment also share one fsync. Default 1ms.
	BatchAge time.Duration `json:"batchAge"`
	// Parallelism is the number of loops reading the spool and sending to
	// the destination. More than 1 may reorder events. Default 1.
	Parallelism int `json:"parallelism"`
}

// disk reports whether the config asks for a spool.
func (c *BufferConfig) disk() bool { return c != nil && c.Type == "disk" }

// Validate checks the fields. The spool's own defaults fill the zero ones.
func (c *BufferConfig) Validate() error {
	var errs []error
	field := func(path, msg string) { errs = append(errs, &config.FieldError{Path: path, Msg: msg}) }
	switch c.Type {
	case "disk":
	case "", "memory":
		if *c != (BufferConfig{Type: c.Type}) {
			field("type", `the other fields are for type "disk"`)
		}
		return errors.Join(errs...)
	default:
		field("type", fmt.Sprintf(`want "memory" or "disk", got %q`, c.Type))
		return errors.Join(errs...)
	}
	if c.WhenFull != "" && c.WhenFull != spool.WhenFullBlock && c.WhenFull != spool.WhenFullDropNewest {
		field("whenFull", fmt.Sprintf(`want "block" or "dropNewest", got %q`, c.WhenFull))
	}
	if c.Sync != "" && c.Sync != spool.SyncBatch && c.Sync != spool.SyncInterval {
		field("sync", fmt.Sprintf(`want "batch" or "interval", got %q`, c.Sync))
	}
	maxBytes, segBytes := c.sizes()
	switch {
	case c.SegmentBytes != 0 && (c.SegmentBytes < spool.MinSegmentBytes || c.SegmentBytes > spool.MaxSegmentBytes):
		field("segmentBytes", fmt.Sprintf("want %d to %d, got %d", spool.MinSegmentBytes, int64(spool.MaxSegmentBytes), c.SegmentBytes))
	case segBytes < spool.MinSegmentBytes:
		field("maxBytes", fmt.Sprintf("want at least %d (two segments of at least %d bytes), got %d", 2*spool.MinSegmentBytes, spool.MinSegmentBytes, maxBytes))
	case maxBytes < 2*segBytes:
		field("maxBytes", fmt.Sprintf("want at least twice segmentBytes (%d), got %d", segBytes, maxBytes))
	}
	for _, f := range []struct {
		name string
		v    any
		neg  bool
	}{{"maxBytes", c.MaxBytes, c.MaxBytes < 0}, {"segmentBytes", c.SegmentBytes, c.SegmentBytes < 0}, {"syncInterval", c.SyncInterval, c.SyncInterval < 0},
		{"checkpointInterval", c.CheckpointInterval, c.CheckpointInterval < 0}, {"batchCount", c.BatchCount, c.BatchCount < 0},
		{"batchAge", c.BatchAge, c.BatchAge < 0}, {"parallelism", c.Parallelism, c.Parallelism < 0}} {
		if f.neg {
			errs = append(errs, config.Want(f.name, "0 or more", f.v))
		}
	}
	return errors.Join(errs...)
}

// sizes returns maxBytes and segmentBytes with their defaults.
func (c *BufferConfig) sizes() (maxBytes, segBytes int64) {
	maxBytes, segBytes = c.MaxBytes, c.SegmentBytes
	if maxBytes == 0 {
		maxBytes = spool.DefaultMaxBytes
	}
	if segBytes == 0 {
		segBytes = min(spool.DefaultSegmentBytes, maxBytes/2)
	}
	return maxBytes, segBytes
}

// spoolConfig returns the spool's config for dir.
func (c *BufferConfig) spoolConfig(dir string) spool.Config {
	maxBytes, segBytes := c.sizes()
	return spool.Config{Dir: dir, MaxBytes: maxBytes, SegmentBytes: segBytes,
		WhenFull: c.WhenFull, Sync: c.Sync, SyncInterval: c.SyncInterval,
		CheckpointInterval: cmpOr(c.CheckpointInterval, defaultBufferCheckpoint)}
}
