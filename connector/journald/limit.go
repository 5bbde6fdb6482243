package journald

import (
	"log/slog"

	"github.com/sluicehq/sluice/event"
)

// perFieldBytes is what MaxEntryBytes counts per field besides its name
// and value: a record holds the lengths of both, at most 4 bytes each for
// fields of at most MaxFieldBytes.
const perFieldBytes = 8

// entryBytes is the size of an entry as MaxEntryBytes counts it.
func entryBytes(fields []event.Field) int {
	n := 0
	for _, f := range fields {
		n += len(f.Name) + len(f.Value) + perFieldBytes
	}
	return n
}

// RecordLimit bounds the record of one event for a disk buffer behind the
// source (see daemon.EventLimiter): an entry of at most maxEntryBytes,
// whose MESSAGE and _HOSTNAME fields the event holds twice (Raw and
// Syslog.Message, Host and Syslog.Hostname).
func (c *Config) RecordLimit() (int64, string) { return 2 * int64(c.MaxEntryBytes), "maxEntryBytes" }

// oversize counts and logs an entry over MaxEntryBytes, which the caller
// then marks delivered without passing it on: holding it back would stop
// the cursor for good.
func (s *Source) oversize(ev *event.Event, size int, cursor string) {
	s.count.Dropped("oversize", 1)
	s.log.Warn("journal entry over maxEntryBytes dropped", "bytes", size, "maxEntryBytes", s.cfg.MaxEntryBytes,
		"unit", unit(ev), "cursor", cursor, slog.Time("time", ev.Time))
}

// unit is the entry's _SYSTEMD_UNIT, or "".
func unit(ev *event.Event) string {
	for _, f := range ev.Fields {
		if f.Name == "_SYSTEMD_UNIT" {
			return f.Value
		}
	}
	return ""
}
