package daemon

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluicehq/sluice/spool"
)

// spoolCollector reports the state of every disk buffer's spool when
// scraped, labelled with the buffer's name.
type spoolCollector struct {
	mu    sync.Mutex
	names []string
	stats []func() spool.Stats

	segments, bytes, records, oldest         *prometheus.Desc
	skipped, regions, corrupt, torn, dropped *prometheus.Desc
	fsyncs                                   *prometheus.Desc
	noSpace, noSpaceWrites, positionErrors   *prometheus.Desc
}

func newSpoolCollector() *spoolCollector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("sluice_spool_"+name, help, []string{"buffer"}, nil)
	}
	return &spoolCollector{
		segments: desc("segments", "Segment files of a disk buffer."),
		bytes:    desc("bytes", "Bytes of a disk buffer's segment files."),
		records:  desc("records", "Records written to a disk buffer and not yet acknowledged by its destination."),
		oldest:   desc("oldest_unacked_age_seconds", "Age of the oldest record not yet acknowledged by the destination; 0 if none."),
		skipped:  desc("skipped_records_total", "Records lost to damage found in the spool's files (see the log for segment and offset)."),
		regions:  desc("corrupt_regions_total", "Damaged regions and missing segments found in the spool's files."),
		corrupt:  desc("corrupt_bytes_total", "Bytes of damaged regions skipped."),
		torn:     desc("torn_bytes_total", "Bytes of torn tails truncated at start: writes never completed, never acknowledged."),
		dropped:  desc("dropped_records_total", `Records dropped because the spool was full (whenFull "dropNewest").`),
		fsyncs:   desc("fsyncs_total", "Fsyncs of a disk buffer's spool."),
		noSpace: desc("no_space", "1 while the file system of a disk buffer's spool is full: "+
			"its sources are held back, and it goes on delivering what it holds."),
		noSpaceWrites:  desc("no_space_writes_total", "Writes to a disk buffer's spool that failed for lack of space, undone and tried again."),
		positionErrors: desc("position_errors_total", "Failed saves of a disk buffer's read position: after a restart, what was delivered since the last save is delivered again."),
	}
}

// set reports the spools of bs, and no others: those of the graph
// running, which a reload replaces.
func (c *spoolCollector) set(bs []*diskBuffer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.names, c.stats = nil, nil
	for _, b := range bs {
		c.names = append(c.names, b.name)
		c.stats = append(c.stats, b.sp.Stats)
	}
}

func (c *spoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.segments, c.bytes, c.records, c.oldest, c.skipped, c.regions, c.corrupt, c.torn, c.dropped, c.fsyncs,
		c.noSpace, c.noSpaceWrites, c.positionErrors} {
		ch <- d
	}
}

func (c *spoolCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	names, stats := c.names, c.stats
	c.mu.Unlock()
	for i, name := range names {
		st := stats[i]()
		age := 0.0
		if !st.OldestUnacked.IsZero() {
			age = max(time.Since(st.OldestUnacked).Seconds(), 0)
		}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, name)
		}
		counter := func(d *prometheus.Desc, v int64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), name)
		}
		gauge(c.segments, float64(st.Segments))
		gauge(c.bytes, float64(st.Bytes))
		gauge(c.records, float64(st.Records))
		gauge(c.oldest, age)
		counter(c.skipped, st.Skipped)
		counter(c.regions, st.CorruptRegions)
		counter(c.corrupt, st.CorruptBytes)
		counter(c.torn, st.TornBytes)
		counter(c.dropped, st.Dropped)
		counter(c.fsyncs, st.Fsyncs)
		noSpace := 0.0
		if st.NoSpace {
			noSpace = 1
		}
		gauge(c.noSpace, noSpace)
		counter(c.noSpaceWrites, st.NoSpaceWrites)
		counter(c.positionErrors, st.PositionErrors)
	}
}
