package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Row is the summary of one subject's replicas on one case.
type Row struct {
	Subject string
	Version string
	Note    string // why it was skipped, or errors
	Runs    []Result
	LinesPS []float64 // per good replica
	AckedPS []float64 // HTTP: events acked (200) per second
	MiBPS   []float64
	PerCPU  []float64 // lines per CPU-second
	HWM     []float64 // MiB
	Missing int       // summed over replicas
	Dups    int
	Reorder int
	UDPIn   int64 // Udp InErrors delta, summed
	UDPRcv  int64 // Udp RcvbufErrors delta, summed
	Retries int   // HTTP requests retried after a 503, summed
	// Latency percentiles per replica, in milliseconds (with -rate).
	P50, P99, P999 []float64
}

// Summarise turns results into a row.
func Summarise(subject, version string, runs []Result) Row {
	row := Row{Subject: subject, Version: version, Runs: runs}
	var errs []string
	for _, r := range runs {
		if r.Err != nil {
			first, _, _ := strings.Cut(r.Err.Error(), "\n")
			errs = append(errs, fmt.Sprintf("replica %d: %s", r.Replica, first))
			continue
		}
		row.Missing += r.Verdict.Missing
		row.Dups += r.Verdict.Duplicates
		row.Reorder += r.Verdict.Reordered
		row.UDPIn += r.UDP.InErrors
		row.UDPRcv += r.UDP.RcvbufErrors
		row.Retries += r.Retries
		if l := r.Latency; l.N > 0 {
			ms := func(d time.Duration) float64 { return d.Seconds() * 1e3 }
			row.P50, row.P99, row.P999 = append(row.P50, ms(l.P50)), append(row.P99, ms(l.P99)), append(row.P999, ms(l.P999))
		}
		if r.Acked > 0 {
			row.AckedPS = append(row.AckedPS, float64(r.Delivered())/r.Acked.Seconds())
		}
		secs := r.E2E.Seconds()
		if secs <= 0 {
			continue
		}
		row.LinesPS = append(row.LinesPS, float64(r.Delivered())/secs)
		row.MiBPS = append(row.MiBPS, float64(r.Bytes)*float64(r.Delivered())/float64(r.Lines)/secs/(1<<20))
		if r.CPU > 0 {
			row.PerCPU = append(row.PerCPU, float64(r.Delivered())/r.CPU)
		}
		row.HWM = append(row.HWM, float64(r.HWM)/(1<<20))
	}
	row.Note = strings.Join(errs, "; ")
	return row
}

// median of xs (0 if empty).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// si formats a rate as 1.23 M or 456 k.
func si(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.2f M", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.0f k", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}

func spread(xs []float64, f func(float64) string) string {
	if len(xs) == 0 {
		return "-"
	}
	if len(xs) == 1 {
		return f(xs[0])
	}
	return fmt.Sprintf("%s [%s–%s]", f(median(xs)), f(slices.Min(xs)), f(slices.Max(xs)))
}

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// hasLatency reports whether any row has latency percentiles.
func hasLatency(rows []Row) bool {
	return slices.ContainsFunc(rows, func(r Row) bool { return len(r.P50) > 0 })
}

// latencyHead and latencyCells are the latency columns, or nothing.
func latencyHead(on bool) (head, rule string) {
	if !on {
		return "", ""
	}
	return " p50 ms | p99 ms | p999 ms |", "---|---|---|"
}

func latencyCells(on bool, r Row) string {
	if !on {
		return ""
	}
	f := func(x float64) string { return fmt.Sprintf("%.2f", x) }
	return fmt.Sprintf(" %s | %s | %s |", spread(r.P50, f), spread(r.P99, f), spread(r.P999, f))
}

func latencyEmpty(on bool) string {
	if !on {
		return ""
	}
	return " - | - | - |"
}

// latencyText explains the latency columns of case c.
func latencyText(c Case) string {
	how := "when the harness's sink received it"
	if c.Sink == SinkFile {
		how = "when the harness first read it from the output file (a real-time thread woken by inotify at each write to the file, read at once)"
	}
	return "Latency (p50/p99/p999, ms, median [min–max] of the replicas' percentiles): from the moment the generator, a real-time thread sending each line when it is due (TCP write, UDP sendmmsg; HTTP: the request), wrote the line, " +
		"to " + how + "; every line of a replica counts once (its first receipt). " +
		"BENCH.md L1: p99 ≤ 2 ms at 50% of sluiced's max P1 rate.\n\n"
}

// ceilingOrder is which subject is "the ceiling" of a case, first found.
var ceilingOrder = []string{"relay", "socat-128k", "socat"}

// WriteTable writes the markdown table of one case; where describes the
// directory of the subjects' files in Disk cases.
func WriteTable(w io.Writer, c Case, rows []Row, lines int, where string) {
	fmt.Fprintf(w, "### %s: %s\n\n", c.Name, c.Desc)
	if c.Pending != "" {
		fmt.Fprintf(w, "%s\n\n", c.Pending)
		return
	}
	if c.RSS != "" {
		writeRSSTable(w, c, rows)
		return
	}
	if c.Network == "http" && c.Sink == SinkHTTP {
		writeHTTPSinkTable(w, c, rows, lines)
		writeWork(w, rows)
		return
	}
	if c.Network == "http" {
		writeHTTPTable(w, c, rows, lines, where)
		writeWork(w, rows)
		return
	}
	byName := map[string]Row{}
	for _, r := range rows {
		byName[r.Subject] = r
	}
	sl := byName["sluiced"]
	ceiling := ""
	for _, n := range ceilingOrder {
		if len(byName[n].LinesPS) > 0 {
			ceiling = n
			break
		}
	}
	ceil := byName[ceiling]
	fmt.Fprintf(w, "%d lines per replica; lines/s and MiB/s are median [min–max]; missing, duplicates and reordered are summed over replicas. ", lines)
	fmt.Fprintf(w, "\"sluiced ÷ X\" is sluiced's median over X's (lines/s, then lines per CPU-second); \"÷ ceiling\" is X's lines/s over %s's.\n\n", orDash(ceiling))
	lat := hasLatency(rows)
	if lat {
		fmt.Fprint(w, latencyText(c))
	}
	lh, lr := latencyHead(lat)
	fmt.Fprintln(w, "| Subject | Lines/s | MiB/s | Lines per CPU-s | Peak RSS (MiB) | Missing | Dup | Reordered | UDP InErrors / RcvbufErrors | sluiced ÷ X (lines/s) | sluiced ÷ X (per CPU-s) | ÷ ceiling |"+lh+" Note |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|"+lr+"---|")
	for _, r := range rows {
		if len(r.Runs) == 0 {
			fmt.Fprintf(w, "| %s | - | - | - | - | - | - | - | - | - | - | - |%s %s |\n", r.Subject, latencyEmpty(lat), r.Note)
			continue
		}
		udp := "-"
		if c.Network == "udp" {
			udp = fmt.Sprintf("%d / %d", r.UDPIn, r.UDPRcv)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %d | %d | %d | %s | %s | %s | %s |%s %s |\n",
			r.Subject, spread(r.LinesPS, si), spread(r.MiBPS, func(x float64) string { return fmt.Sprintf("%.0f", x) }),
			perCPU(r.PerCPU), spread(r.HWM, func(x float64) string { return fmt.Sprintf("%.1f", x) }),
			r.Missing, r.Dups, r.Reorder, udp,
			ratio(median(sl.LinesPS), median(r.LinesPS)), ratio(median(sl.PerCPU), median(r.PerCPU)),
			ratio(median(r.LinesPS), median(ceil.LinesPS)), latencyCells(lat, r), r.Note)
	}
	fmt.Fprintln(w)
	writeWork(w, rows)
}

func writeWork(w io.Writer, rows []Row) {
	fmt.Fprintln(w, "Versions and work done:")
	fmt.Fprintln(w)
	for _, r := range rows {
		if s := Subjects[r.Subject]; s != nil && s.Work != "" && len(r.Runs) > 0 {
			fmt.Fprintf(w, "- %s (%s): %s\n", r.Subject, orDash(r.Version), s.Work)
		}
	}
	fmt.Fprintln(w)
}

// writeHTTPTable writes the table of an HTTP case (p7): events/s until
// the last 200 and until the output file was complete, as ratios to
// sluiced-memory and to the ceiling.
func writeHTTPTable(w io.Writer, c Case, rows []Row, lines int, where string) {
	byName := map[string]Row{}
	for _, r := range rows {
		byName[r.Subject] = r
	}
	mem, ceil := median(byName["sluiced-memory"].AckedPS), median(byName["ceiling"].AckedPS)
	fmt.Fprintf(w, "%d events of %d B + newline per replica, POSTed as NDJSON by %d keep-alive clients, %d events per request. ", lines, jsonLen, c.Conns, c.Batch)
	fmt.Fprintf(w, "Spools and output files in %s.\n\n", where)
	fmt.Fprintln(w, "\"Acked\" runs from the first byte sent to the last 200 (an event counts as delivered once its request got 200); \"output\" to the moment the output file held every line. "+
		"Rates are median [min–max] over replicas; missing, duplicates, reordered and 503 retries are summed. "+
		"\"÷ memory\" and \"÷ ceiling\" are the median acked events/s over sluiced-memory's and over the ceiling's. CPU is the subject's (the ceiling's: its writing thread).")
	fmt.Fprintln(w)
	lat := hasLatency(rows)
	if lat {
		fmt.Fprint(w, latencyText(c))
	}
	lh, lr := latencyHead(lat)
	fmt.Fprintln(w, "| Subject | Events/s acked | Events/s output | MiB/s acked | CPU µs/event | Peak RSS (MiB) | Missing | Dup | Reordered | 503 retries | ÷ memory | ÷ ceiling |"+lh+" Note |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|"+lr+"---|")
	for _, r := range rows {
		if len(r.Runs) == 0 {
			fmt.Fprintf(w, "| %s | - | - | - | - | - | - | - | - | - | - | - |%s %s |\n", r.Subject, latencyEmpty(lat), r.Note)
			continue
		}
		fmt.Fprintf(w, "%s %s | %s |%s %s |\n", httpCells(r),
			ratio(median(r.AckedPS), mem), ratio(median(r.AckedPS), ceil), latencyCells(lat, r), r.Note)
	}
	fmt.Fprintln(w)
}

// writeHTTPSinkTable writes the table of an HTTP → HTTP case (p6):
// events/s until the last 200 and until the sink held every event, CPU
// per event, and ratios of sluiced to each subject and of each subject
// to the relay.
func writeHTTPSinkTable(w io.Writer, c Case, rows []Row, lines int) {
	byName := map[string]Row{}
	for _, r := range rows {
		byName[r.Subject] = r
	}
	sl, relay := byName["sluiced"], byName["relay"]
	fmt.Fprintf(w, "%d events of %d B + newline per replica, POSTed as NDJSON by %d keep-alive clients, %d events per request, to the subject, which POSTs them to an HTTP sink in the harness (200 to every request; NDJSON or JSON arrays, gzip if so encoded). ", lines, jsonLen, c.Conns, c.Batch)
	fmt.Fprintln(w, "\"Acked\" runs from the first byte sent to the last 200 from the subject; \"at sink\" to the moment the sink held every event. "+
		"Rates are median [min–max] over replicas; missing, duplicates, reordered (order of arrival at the sink) and 503 retries are summed. "+
		"\"sluiced ÷ X\" is sluiced's median acked events/s over X's, then X's CPU per event over sluiced's; \"÷ relay\" is X's acked events/s over the relay's (the Go HTTP→HTTP ceiling). BENCH.md P6: sluiced ≥3× Benthos.")
	fmt.Fprintln(w)
	lat := hasLatency(rows)
	if lat {
		fmt.Fprint(w, latencyText(c))
	}
	lh, lr := latencyHead(lat)
	fmt.Fprintln(w, "| Subject | Events/s acked | Events/s at sink | MiB/s acked | CPU µs/event | Peak RSS (MiB) | Missing | Dup | Reordered | 503 retries | sluiced ÷ X (events/s) | sluiced ÷ X (CPU/event) | ÷ relay |"+lh+" Note |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|"+lr+"---|")
	for _, r := range rows {
		if len(r.Runs) == 0 {
			fmt.Fprintf(w, "| %s | - | - | - | - | - | - | - | - | - | - | - | - |%s %s |\n", r.Subject, latencyEmpty(lat), r.Note)
			continue
		}
		fmt.Fprintf(w, "%s %s | %s | %s |%s %s |\n", httpCells(r),
			ratio(median(sl.AckedPS), median(r.AckedPS)), ratio(median(sl.PerCPU), median(r.PerCPU)),
			ratio(median(r.AckedPS), median(relay.AckedPS)), latencyCells(lat, r), r.Note)
	}
	fmt.Fprintln(w)
}

// httpCells returns the first cells of a row of an HTTP case, from the
// subject to the 503 retries, each cell closed by its "|".
func httpCells(r Row) string {
	var mibps, usPerEvent []float64
	for _, x := range r.AckedPS {
		mibps = append(mibps, x*(jsonLen+1)/(1<<20))
	}
	for _, x := range r.PerCPU {
		usPerEvent = append(usPerEvent, 1e6/x)
	}
	rss := "-"
	if slices.Max(append([]float64{0}, r.HWM...)) > 0 {
		rss = spread(r.HWM, func(x float64) string { return fmt.Sprintf("%.1f", x) })
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %d | %d | %d | %d |",
		r.Subject, spread(r.AckedPS, si), spread(r.LinesPS, si),
		spread(mibps, func(x float64) string { return fmt.Sprintf("%.1f", x) }),
		spread(usPerEvent, func(x float64) string { return fmt.Sprintf("%.2f", x) }), rss,
		r.Missing, r.Dups, r.Reorder, r.Retries)
}

// perCPU is the median of lines per CPU-second, "-" when the subject
// used less than one clock tick.
func perCPU(xs []float64) string {
	if len(xs) == 0 {
		return "-"
	}
	return si(median(xs))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Machine describes where the run happened, for the results header.
func Machine(modRoot string) string {
	var b strings.Builder
	cpu := "unknown"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.SplitSeq(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	load, _ := os.ReadFile("/proc/loadavg")
	commit := "unknown"
	if out, err := gitCmd(modRoot, "rev-parse", "--short", "HEAD"); err == nil {
		commit = out
		if st, _ := gitCmd(modRoot, "status", "--porcelain", "--untracked-files=no"); st != "" {
			commit += " (with uncommitted changes)"
		}
	}
	fmt.Fprintf(&b, "- Date: %s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "- CPU: %s, %d cores visible\n", cpu, runtime.NumCPU())
	fmt.Fprintf(&b, "- Kernel: %s\n", strings.TrimSpace(string(kernel)))
	fmt.Fprintf(&b, "- Load average at start: %s\n", strings.TrimSpace(string(load)))
	fmt.Fprintf(&b, "- Go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "- Commit: %s\n", commit)
	return b.String()
}

func gitCmd(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}
