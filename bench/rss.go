package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The memory cases (BENCH.md M1, R6): RSS idle, and RSS over a soak at a
// fixed rate. They are registered here so that the case list in
// subject.go stays as it was.
func init() {
	subjects := []string{"sluiced-defaults", "sluiced", "rsyslog", "syslog-ng", "relay"}
	Cases = append(Cases,
		Case{Name: "idle", Desc: "RSS of a subject listening for syslog over TCP with nothing sent (after 5 s)", Network: "tcp", Framing: FramingLF, Conns: 1,
			Parse: true, RSS: RSSIdle, Subjects: subjects},
		Case{Name: "soak", Desc: "RSS over a soak: syslog RFC 5424 over TCP → parsed → file, at a fixed rate (-rate; default half of p1's rate in the same invocation) for -soak", Network: "tcp", Framing: FramingLF, Conns: 1,
			Parse: true, RSS: RSSSoak, Subjects: subjects})
}

// Memory cases (Case.RSS).
const (
	RSSIdle = "idle"
	RSSSoak = "soak"
)

// idleSettle is how long a subject idles before its idle RSS is read.
const idleSettle = 5 * time.Second

// RSSSample is a subject's memory at one moment, summed over its process
// tree, in bytes.
type RSSSample struct {
	At              time.Duration // since the subject was ready
	RSS, Anon, File int64         // VmRSS, RssAnon, RssFile (+RssShmem in File)
	Lines           int64         // lines sent so far (soak)
	CPUSeconds      float64       // since ready
}

// readRSS reads pid's tree's VmRSS, RssAnon and RssFile+RssShmem.
func readRSS(pid int) (s RSSSample) {
	for _, p := range Tree(pid) {
		f, err := os.Open(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				continue
			}
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			switch k {
			case "VmRSS":
				s.RSS += kb << 10
			case "RssAnon":
				s.Anon += kb << 10
			case "RssFile", "RssShmem":
				s.File += kb << 10
			}
		}
		f.Close()
	}
	return s
}

// runRSS runs a memory case on a ready subject (pid, listening on port,
// writing out): idle, it samples once after idleSettle; soaking, it sends
// load in a loop at rate lines/s for d and samples every second, while a
// soakCounter reads out, counts every line by seq and frees what it read,
// so that a 30-minute soak needs no disk. A soak's verdict compares the
// lines written with those sent, once the output stops growing.
func runRSS(c Case, pid, port int, out string, load *Load, rate float64, d time.Duration) ([]RSSSample, Verdict, error) {
	before := Usage(pid)
	start := time.Now()
	sample := func(lines int64) RSSSample {
		s := readRSS(pid)
		s.At, s.Lines, s.CPUSeconds = time.Since(start), lines, Usage(pid).CPUSeconds-before.CPUSeconds
		return s
	}
	if c.RSS == RSSIdle {
		time.Sleep(idleSettle)
		return []RSSSample{sample(0)}, Verdict{}, nil
	}
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, Verdict{}, err
	}
	defer conn.Close()
	counter := newSoakCounter(out, load.Lines())
	defer counter.close()
	var counted atomic.Int64
	stop, readerDone := make(chan struct{}), make(chan error, 1)
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			err := counter.poll()
			counted.Store(counter.lines)
			if err != nil {
				readerDone <- err
				return
			}
			select {
			case <-stop:
				readerDone <- nil
				return
			case <-t.C:
			}
		}
	}()
	finish := func() error {
		close(stop)
		return <-readerDone
	}
	var samples []RSSSample
	p := pacer{start: start, rate: rate}
	per := max(1, int(rate/1000)) // lines per write: 1 ms worth
	next := start.Add(time.Second)
	var sent int64
	for i := 0; time.Since(start) < d; {
		j := min(i+per, load.Lines())
		if _, err := conn.Write(load.Span(i, j)); err != nil {
			_ = finish()
			return samples, Verdict{}, fmt.Errorf("send: %w", err)
		}
		sent += int64(j - i)
		if i = j; i == load.Lines() {
			i = 0
		}
		if time.Now().After(next) {
			s := sample(sent)
			samples = append(samples, s)
			if len(samples)%60 == 0 { // a trace that survives an interrupted soak
				fmt.Fprintf(os.Stderr, "soak: %v, %d lines sent, %d counted, RSS %.1f MiB (anonymous %.1f)\n",
					s.At.Round(time.Second), s.Lines, counted.Load(), float64(s.RSS)/(1<<20), float64(s.Anon)/(1<<20))
			}
			next = next.Add(time.Second)
		}
		p.wait(int(sent))
	}
	// Wait for the rest: until every line is counted, or the output has
	// not grown for soakQuiet.
	last, grew := counted.Load(), time.Now()
	for counted.Load() < sent && time.Since(grew) < soakQuiet {
		time.Sleep(100 * time.Millisecond)
		if n := counted.Load(); n != last {
			last, grew = n, time.Now()
		}
	}
	if err := finish(); err != nil {
		return samples, Verdict{}, err
	}
	return samples, counter.verdict(sent), nil
}

// soakQuiet is how long a soak waits, once sending stopped, for output
// that does not grow before it counts what is missing.
const soakQuiet = 10 * time.Second

// soakWarm is the part of a soak taken as warm-up: growth is measured
// from its end to the end of the soak.
const soakWarm = 0.2

// writeRSSTable writes the table of a memory case.
func writeRSSTable(w io.Writer, c Case, rows []Row) {
	mib := func(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }
	if c.RSS == RSSIdle {
		fmt.Fprintf(w, "RSS after %v listening with nothing sent, median [min–max] over replicas; anonymous (heap, stacks: the process's own) and file-backed (the program's pages in the page cache, shared and reclaimable).\n\n", idleSettle)
		fmt.Fprintln(w, "| Subject | RSS (MiB) | Anonymous (MiB) | File-backed (MiB) | Note |")
		fmt.Fprintln(w, "|---|---|---|---|---|")
		for _, r := range rows {
			var rss, anon, file []float64
			for _, run := range r.Runs {
				if run.Err == nil && len(run.RSS) > 0 {
					s := run.RSS[len(run.RSS)-1]
					rss, anon, file = append(rss, float64(s.RSS)), append(anon, float64(s.Anon)), append(file, float64(s.File))
				}
			}
			f := func(x float64) string { return mib(int64(x)) }
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", r.Subject, spread(rss, f), spread(anon, f), spread(file, f), r.Note)
		}
		fmt.Fprintln(w)
		writeWork(w, rows)
		return
	}
	fmt.Fprintf(w, "Per replica: the rate sent, CPU per line, RSS at the end of the warm-up (the first %.0f%% of the soak), at the end, the largest after warm-up, the growth: fitted (the rise of a least-squares line through every 1 s sample after warm-up, over the mean RSS after warm-up: the goal's rule), its slope in MiB per minute, and the two-sample growth from the end of warm-up to the last sample (the rule used before, kept for comparison).\n\n", soakWarm*100)
	fmt.Fprintln(w, "| Subject | Replica | Duration | Lines/s sent | CPU µs/line | RSS warm (MiB) | RSS end (MiB) | RSS max after warm-up (MiB) | Anonymous end (MiB) | Growth, fitted | Slope (MiB/min) | Growth warm → end (old rule) | Missing / dup | Note |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		if len(r.Runs) == 0 {
			fmt.Fprintf(w, "| %s | - | - | - | - | - | - | - | - | - | - | - | - | %s |\n", r.Subject, r.Note)
		}
		for _, run := range r.Runs {
			st := soakStats(run.RSS)
			note := ""
			if run.Err != nil {
				note, _, _ = strings.Cut(run.Err.Error(), "\n")
			}
			if st.n == 0 {
				fmt.Fprintf(w, "| %s | %d | - | - | - | - | - | - | - | - | - | - | - | %s |\n", r.Subject, run.Replica, note)
				continue
			}
			fmt.Fprintf(w, "| %s | %d | %v | %s | %.2f | %s | %s | %s | %s | %+.1f%% | %+.2f | %+.1f%% | %d / %d | %s |\n", r.Subject, run.Replica,
				st.last.At.Round(time.Second), si(float64(st.last.Lines)/st.last.At.Seconds()), st.last.CPUSeconds/float64(max(1, st.last.Lines))*1e6,
				mib(st.warm.RSS), mib(st.last.RSS), mib(st.max), mib(st.last.Anon), st.fitGrowth*100, st.slope, st.growth*100, run.Verdict.Missing, run.Verdict.Duplicates, note)
		}
	}
	fmt.Fprintln(w)
	writeWork(w, rows)
}

// soakSummary is what a soak's RSS samples say. Two measures of growth:
// growth compares two single samples (the end of warm-up and the last),
// the rule the soak goal used first; in a series that swings ±10% with
// the collector's cycles, it says more about where each sample fell in
// its swing than about a trend. fitGrowth, the rule the goal uses now,
// is the rise of the least-squares line through every sample after
// warm-up, from its first to its last, as a fraction of their mean: a
// steady climb shows in it, a swing averages out. The goal (≤5%) is the
// same number under either; the report gives both.
type soakSummary struct {
	n          int
	warm, last RSSSample
	max        int64
	growth     float64 // (last − warm) / warm: two samples (the old rule)
	slope      float64 // MiB per minute after warm-up (least squares)
	mean       float64 // mean RSS after warm-up, MiB
	fitGrowth  float64 // slope × the span after warm-up / mean (the rule)
}

func soakStats(s []RSSSample) (st soakSummary) {
	if len(s) == 0 {
		return st
	}
	w := int(float64(len(s)) * soakWarm)
	st.n, st.warm, st.last = len(s), s[w], s[len(s)-1]
	var sx, sy, sxx, sxy float64
	for _, x := range s[w:] {
		st.max = max(st.max, x.RSS)
		t, y := x.At.Minutes(), float64(x.RSS)/(1<<20)
		sx, sy, sxx, sxy = sx+t, sy+y, sxx+t*t, sxy+t*y
	}
	n := float64(len(s) - w)
	st.mean = sy / n
	if n > 1 && n*sxx-sx*sx > 0 {
		st.slope = (n*sxy - sx*sy) / (n*sxx - sx*sx)
	}
	if st.mean > 0 {
		st.fitGrowth = st.slope * (st.last.At - st.warm.At).Minutes() / st.mean
	}
	if st.warm.RSS > 0 {
		st.growth = float64(st.last.RSS-st.warm.RSS) / float64(st.warm.RSS)
	}
	return st
}
