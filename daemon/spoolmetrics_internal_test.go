package daemon

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluicehq/sluice/spool"
)

// TestSpoolCollector: each sluice_spool_ series shows its own field of
// the spool's Stats. The spool's tests make each counter move in the
// spool (TornBytes, CorruptRegions, Skipped: spool_test.go,
// inspect_test.go; CorruptBytes, Fsyncs: inspect_test.go; Dropped:
// spool_test.go; NoSpaceWrites: nospace_test.go; PositionErrors:
// position_error_test.go), and
// e2e reads some of them on /metrics (spool_full_test.go,
// spool_corrupt_test.go); here every field has a distinct value, so a
// series that showed another field, or none, fails.
func TestSpoolCollector(t *testing.T) {
	c := newSpoolCollector()
	c.names = []string{"b"}
	c.stats = append(c.stats, func() spool.Stats {
		return spool.Stats{Segments: 1, Bytes: 2, Records: 3, OldestUnacked: time.Now().Add(-time.Hour), Skipped: 5,
			CorruptRegions: 6, CorruptBytes: 7, TornBytes: 8, Dropped: 9, Fsyncs: 10, NoSpace: true, NoSpaceWrites: 12, PositionErrors: 13}
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			if l := m.GetLabel(); len(l) != 1 || l[0].GetName() != "buffer" || l[0].GetValue() != "b" {
				t.Errorf("%s has labels %v, want buffer=b", f.GetName(), l)
			}
			v := m.GetGauge().GetValue()
			if f.GetType().String() == "COUNTER" {
				v = m.GetCounter().GetValue()
			}
			got[f.GetName()] = v
		}
	}
	want := map[string]float64{"segments": 1, "bytes": 2, "records": 3, "skipped_records_total": 5,
		"corrupt_regions_total": 6, "corrupt_bytes_total": 7, "torn_bytes_total": 8, "dropped_records_total": 9,
		"fsyncs_total": 10, "no_space": 1, "no_space_writes_total": 12, "position_errors_total": 13}
	for name, v := range want {
		if got["sluice_spool_"+name] != v {
			t.Errorf("sluice_spool_%s = %v, want %v", name, got["sluice_spool_"+name], v)
		}
	}
	if age := got["sluice_spool_oldest_unacked_age_seconds"]; age < 3600 || age > 3700 {
		t.Errorf("oldest_unacked_age_seconds = %v, want about 3600", age)
	}
	if len(got) != len(want)+1 {
		t.Errorf("%d series, want %d: %v", len(got), len(want)+1, got)
	}
}
