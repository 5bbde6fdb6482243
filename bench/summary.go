package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// CaseRows are the rows of one case of an invocation.
type CaseRows struct {
	Case Case
	Rows []Row
	Rate float64 // -rate of the invocation: latency columns when > 0
}

// defaultSoakRate is the soak's rate when neither -soakrate nor a p1 run
// of sluiced-defaults earlier in the invocation gives one.
const defaultSoakRate = 50_000

// soakRate is half of sluiced-defaults' median p1 rate in done (measured
// as fast as possible), else defaultSoakRate.
func soakRate(done []CaseRows) float64 {
	for _, cr := range done {
		if cr.Case.Name == "p1" && cr.Rate == 0 {
			if r := median(rowByName(cr.Rows, "sluiced-defaults").LinesPS); r > 0 {
				return r / 2
			}
		}
	}
	return defaultSoakRate
}

// writeSummary writes one table of every case and subject of the
// invocation, then the goals of issue 20 that its cases measure, as
// ratios within the run; to out and, with -summary, to that file.
func writeSummary(out io.Writer, o Options, modRoot, machine string, done []CaseRows) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## Summary\n\nCommand: `%s`\n\n%s\n", o.Command, machine)
	fmt.Fprintf(&b, "%d lines per replica, %d replicas interleaved; medians [min–max]. Compare ratios within this table, not rates across machines or runs.\n\n", o.Lines, o.Replicas)
	fmt.Fprintln(&b, "| Case | Subject | Lines/s | Lines per CPU-s | Peak RSS (MiB) | p50 / p99 / p999 ms | Missing / dup | Note |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|")
	f1 := func(x float64) string { return fmt.Sprintf("%.1f", x) }
	for _, cr := range done {
		name := cr.Case.Name
		if cr.Rate > 0 && cr.Case.RSS == "" {
			name += fmt.Sprintf(" @ %s lines/s", si(cr.Rate))
		}
		for _, r := range cr.Rows {
			switch cr.Case.RSS {
			case RSSIdle:
				rss := idleRSS(r)
				fmt.Fprintf(&b, "| %s | %s | - | - | idle %s | - | - | %s |\n", name, r.Subject, spread(rss, f1), r.Note)
				continue
			case RSSSoak:
				for _, run := range r.Runs {
					st := soakStats(run.RSS)
					if st.n == 0 {
						continue
					}
					fmt.Fprintf(&b, "| %s @ %s lines/s, %v | %s | - | %s | %s → %s (fitted %+.1f%%; two samples %+.1f%%) | - | %d / %d | %s |\n", name, si(float64(st.last.Lines)/st.last.At.Seconds()),
						st.last.At.Round(time.Second), r.Subject, si(float64(st.last.Lines)/max(st.last.CPUSeconds, 1e-9)),
						f1(float64(st.warm.RSS)/(1<<20)), f1(float64(st.last.RSS)/(1<<20)), st.fitGrowth*100, st.growth*100, run.Verdict.Missing, run.Verdict.Duplicates, r.Note)
				}
				continue
			}
			lat := "-"
			if len(r.P99) > 0 {
				lat = fmt.Sprintf("%.2f / %s / %.2f", median(r.P50), spread(r.P99, func(x float64) string { return fmt.Sprintf("%.2f", x) }), median(r.P999))
			}
			rate := spread(r.LinesPS, si)
			if len(r.AckedPS) > 0 {
				rate = spread(r.AckedPS, si) + " acked"
			}
			md := "-"
			if len(r.Runs) > 0 {
				md = fmt.Sprintf("%d / %d", r.Missing, r.Dups)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", name, r.Subject, rate, perCPU(r.PerCPU), spread(r.HWM, f1), lat, md, r.Note)
		}
	}
	fmt.Fprintln(&b)
	if goals := goalRows(done); goals != "" {
		fmt.Fprintf(&b, "### Goals of issue 20 measured by this run\n\n| Goal | Measured | |\n|---|---|---|\n%s\n", goals)
	}
	fmt.Fprint(out, b.String())
	if o.Summary == "" {
		return nil
	}
	path := o.Summary
	if !filepath.IsAbs(path) {
		path = filepath.Join(modRoot, path)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "Summary written to %s\n", path)
	return nil
}

func idleRSS(r Row) []float64 {
	var rss []float64
	for _, run := range r.Runs {
		if run.Err == nil && len(run.RSS) > 0 {
			rss = append(rss, float64(run.RSS[len(run.RSS)-1].RSS)/(1<<20))
		}
	}
	return rss
}

// goalRows are the rows of the goals table that the cases of done
// measure: each a ratio within the run (or, for latency and RSS, a figure
// beside the harness's floor), with whether it is met.
func goalRows(done []CaseRows) string {
	var b strings.Builder
	row := func(goal, measured string, met bool) {
		m := "not met"
		if met {
			m = "**met**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", goal, measured, m)
	}
	for _, cr := range done {
		get := func(name string) Row { return rowByName(cr.Rows, name) }
		def, tuned, rs, relay := get("sluiced-defaults"), get("sluiced"), get("rsyslog"), get("relay")
		x := func(a, b []float64) float64 {
			if median(b) == 0 {
				return 0
			}
			return median(a) / median(b)
		}
		switch {
		case cr.Case.Name == "p1" && cr.Rate == 0:
			if len(def.LinesPS) > 0 && len(rs.LinesPS) > 0 {
				v := x(def.LinesPS, rs.LinesPS)
				row("p1, defaults: ≥2× rsyslog lines/s", fmt.Sprintf("%.2f× (%s vs %s)", v, si(median(def.LinesPS)), si(median(rs.LinesPS))), v >= 2)
				v = x(def.PerCPU, rs.PerCPU)
				row("p1, defaults: ≥2.5× rsyslog lines per CPU-s", fmt.Sprintf("%.2f×", v), v >= 2.5)
				v = x(def.HWM, rs.HWM)
				row("p1, defaults: peak RSS ≤0.5× rsyslog's", fmt.Sprintf("%.2f× (%.1f vs %.1f MiB)", v, median(def.HWM), median(rs.HWM)), v <= 0.5)
			}
			if len(tuned.LinesPS) > 0 && len(rs.LinesPS) > 0 {
				v := x(tuned.LinesPS, rs.LinesPS)
				row("p1, tuned (the \"sluiced\" subject): ≥3× rsyslog lines/s", fmt.Sprintf("%.2f×", v), v >= 3)
			}
		case cr.Case.Name == "p2" && cr.Rate == 0:
			for _, s := range []Row{tuned, def} {
				if len(s.LinesPS) > 0 && len(relay.LinesPS) > 0 {
					v := x(s.LinesPS, relay.LinesPS)
					row("p2 ("+s.Subject+"): ≥0.9× the relay's lines/s", fmt.Sprintf("%.2f× (%s vs %s)", v, si(median(s.LinesPS)), si(median(relay.LinesPS))), v >= 0.9)
				}
			}
		case cr.Case.Name == "p1" && cr.Rate > 0:
			if len(def.P99) > 0 {
				floor := ""
				if s := get("socat"); len(s.P99) > 0 {
					floor = fmt.Sprintf("; socat, the harness's floor, %.2f ms", median(s.P99))
				}
				v := median(def.P99)
				row(fmt.Sprintf("p99 receipt → file at %s lines/s, defaults: ≤2 ms", si(cr.Rate)), fmt.Sprintf("%.2f ms%s", v, floor), v <= 2)
			}
		case cr.Case.RSS == RSSIdle:
			if rss := idleRSS(def); len(rss) > 0 {
				row("idle RSS, defaults: ≤12 MiB", fmt.Sprintf("%.1f MiB", median(rss)), median(rss) <= 12)
			}
		case cr.Case.RSS == RSSSoak:
			for _, run := range def.Runs {
				if st := soakStats(run.RSS); st.n > 0 {
					row(fmt.Sprintf("RSS flat over a soak (%v), defaults: ≤5%% growth after warm-up (fitted)", st.last.At.Round(time.Second)),
						fmt.Sprintf("%+.1f%% fitted (%+.2f MiB/min, mean %.1f MiB); %+.1f%% end vs end of warm-up (the old two-sample rule)", st.fitGrowth*100, st.slope, st.mean, st.growth*100), st.fitGrowth <= 0.05)
				}
			}
		}
	}
	return b.String()
}
