package main

import (
	"math"
	"testing"
	"time"
)

// TestSoakStats checks the soak's two growth figures on made series of
// 30 minutes of 1 s samples: a flat series that swings ±10% with a
// period of 7 s (the end of warm-up caught low, the last sample high),
// which the two-sample rule calls growth and the fitted rule does not;
// the same swing on a steady 10% climb, which the fitted rule reports;
// and the swing on a steady 10% fall, which the two-sample rule still
// calls growth.
func TestSoakStats(t *testing.T) {
	const n = 1800
	const base = 25 << 20 // bytes
	series := func(rise float64) []RSSSample {
		s := make([]RSSSample, n)
		for i := range s {
			swing := 0.1 * math.Sin(2*math.Pi*float64(i)/7)
			s[i] = RSSSample{At: time.Duration(i) * time.Second, RSS: int64(base * (1 + swing + rise*float64(i)/n))}
		}
		// The end of warm-up at the swing's trough, the last at its crest.
		w := int(float64(n) * soakWarm)
		s[w].RSS = int64(float64(s[w].RSS) * 0.9)
		s[n-1].RSS = int64(float64(s[n-1].RSS) * 1.1)
		return s
	}
	for _, c := range []struct {
		name      string
		rise      float64 // over the whole series
		fitLo     float64 // fitGrowth must lie in [fitLo, fitHi]
		fitHi     float64
		oldAbove5 bool // the two-sample growth passes 5%
	}{
		{"flat, swinging", 0, -0.01, 0.01, true},
		{"steady 10% climb, swinging", 0.10, 0.07, 0.09, true}, // 80% of the climb is after warm-up
		{"steady 10% fall, swinging", -0.10, -0.09, -0.07, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := soakStats(series(c.rise))
			t.Logf("fitted %+.2f%%, slope %+.3f MiB/min, mean %.2f MiB; two samples %+.2f%%", st.fitGrowth*100, st.slope, st.mean, st.growth*100)
			if st.fitGrowth < c.fitLo || st.fitGrowth > c.fitHi {
				t.Errorf("fitted growth %+.3f, want within [%+.2f, %+.2f]", st.fitGrowth, c.fitLo, c.fitHi)
			}
			if (st.growth > 0.05) != c.oldAbove5 {
				t.Errorf("two-sample growth %+.3f: above 5%% is %v, want %v", st.growth, st.growth > 0.05, c.oldAbove5)
			}
			if math.Abs(st.mean-25) > 0.1*25+25*math.Abs(c.rise) {
				t.Errorf("mean %.2f MiB, want about 25", st.mean)
			}
		})
	}
	if st := soakStats(nil); st.n != 0 || st.fitGrowth != 0 {
		t.Errorf("no samples: %+v", st)
	}
}
