package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults of [Config].
const (
	DefaultMaxBytes           = 1 << 30  // 1 GiB on disk in total
	DefaultSegmentBytes       = 64 << 20 // 64 MiB per segment file
	DefaultSyncInterval       = 100 * time.Millisecond
	DefaultCheckpointInterval = time.Second
)

// Sizes: bounds of Config.SegmentBytes, and the bytes a record takes on
// disk besides its payload.
const (
	MinSegmentBytes = 4 * HeaderSize // 96
	MaxSegmentBytes = 1 << 31        // 2 GiB
	HeaderSize      = 24
)

// The sizes above are the segment format's (segment.go): these fail to
// compile if they differ.
var (
	_ [HeaderSize - headerSize]struct{}
	_ [headerSize - HeaderSize]struct{}
	_ [MaxSegmentBytes - maxSegmentBytes]struct{}
	_ [maxSegmentBytes - MaxSegmentBytes]struct{}
)

// Values of Config.WhenFull and Config.Sync.
const (
	WhenFullBlock      = "block"
	WhenFullDropNewest = "dropNewest"
	SyncBatch          = "batch"
	SyncInterval       = "interval"
)

// Config is the serialisable configuration of a [Spool]. Zero fields take
// the documented defaults.
type Config struct {
	// Dir is the spool's directory, created if missing. Required. One
	// Spool at a time may use it.
	Dir string `json:"dir"`
	// MaxBytes bounds the bytes of all segment files together. Default
	// 1 GiB. It must be at least twice SegmentBytes.
	MaxBytes int64 `json:"maxBytes,omitempty"`
	// SegmentBytes is the size at which a segment file is sealed and a new
	// one started. Default 64 MiB. A record's frame (payload plus a 24-byte
	// header) may not exceed it.
	SegmentBytes int64 `json:"segmentBytes,omitempty"`
	// WhenFull says what Send does when MaxBytes would be exceeded:
	// "block" (default) waits until acked segments are deleted or ctx is
	// done; "dropNewest" drops the records of that Send, counts them in
	// Stats.Dropped, logs a warning, and acks the Send (so its source does
	// not redeliver them: dropping is the promise the user chose).
	WhenFull string `json:"whenFull,omitempty"`
	// Sync is "batch" (default): Send acks only after its records are
	// fsynced, and the Sends waiting at one moment share one fsync (group
	// commit). "interval": Send acks once its records are written to the
	// file, and the spool fsyncs every SyncInterval; on power loss (not on
	// a process crash: the page cache survives that) the records acked in
	// the last SyncInterval, plus the duration of one fsync, may be lost.
	Sync string `json:"sync,omitempty"`
	// SyncInterval is the fsync period of Sync "interval". Default 100ms.
	SyncInterval time.Duration `json:"syncInterval,omitempty"`
	// CheckpointInterval is how often the read position is persisted (it
	// is also persisted on stop and before a segment is deleted). A
	// position older than the newest acks only causes redelivery, never
	// loss. Default 1s.
	CheckpointInterval time.Duration `json:"checkpointInterval,omitempty"`
}

func (c *Config) setDefaults() {
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = min(DefaultSegmentBytes, c.MaxBytes/2)
	}
	if c.WhenFull == "" {
		c.WhenFull = WhenFullBlock
	}
	if c.Sync == "" {
		c.Sync = SyncBatch
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = DefaultSyncInterval
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
}

func (c *Config) validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("dir is required"))
	}
	if c.SegmentBytes < 4*headerSize {
		errs = append(errs, fmt.Errorf("segmentBytes %d is below %d", c.SegmentBytes, 4*headerSize))
	}
	if c.SegmentBytes > maxSegmentBytes {
		errs = append(errs, fmt.Errorf("segmentBytes %d is above %d", c.SegmentBytes, int64(maxSegmentBytes)))
	}
	if c.MaxBytes < 2*c.SegmentBytes {
		errs = append(errs, fmt.Errorf("maxBytes %d is below twice segmentBytes %d", c.MaxBytes, c.SegmentBytes))
	}
	if c.WhenFull != WhenFullBlock && c.WhenFull != WhenFullDropNewest {
		errs = append(errs, fmt.Errorf("whenFull %q: want %q or %q", c.WhenFull, WhenFullBlock, WhenFullDropNewest))
	}
	if c.Sync != SyncBatch && c.Sync != SyncInterval {
		errs = append(errs, fmt.Errorf("sync %q: want %q or %q", c.Sync, SyncBatch, SyncInterval))
	}
	if c.SyncInterval < 0 || c.CheckpointInterval < 0 {
		errs = append(errs, errors.New("negative interval"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("spool: config: %w", err)
	}
	return nil
}

// Option sets what Config cannot serialise.
type Option func(*options)

type options struct {
	log    *slog.Logger
	now    func() time.Time
	onSync func(time.Duration)
}

// WithLogger sets the logger for recovery, corruption and drop reports.
// Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithClock sets the clock that stamps each record's write time. Default:
// time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithSyncObserver sets a function called after each fsync of written
// records (a group commit with Sync "batch", the periodic one with Sync
// "interval", the last one on stop), failed or not, with how long it took;
// a daemon feeds it to a histogram. It is called from the goroutine that
// ran the fsync, one call at a time, while Sends may wait for it: it must
// be quick. Default: none.
func WithSyncObserver(f func(d time.Duration)) Option { return func(o *options) { o.onSync = f } }
