// Command bench is sluice's benchmark harness (issue 7, BENCH.md 2.4): it
// pre-builds a seeded load, sends it to each subject (sluiced, a naive Go
// relay, socat, rsyslog, ...) started fresh per replica, waits until the
// subject's output (a file on tmpfs, or the harness's TCP or HTTP sink)
// holds every line, checks it with a sequence-number oracle, and reports
// throughput, CPU, peak RSS, loss and, at a fixed rate, latency as
// markdown tables. See bench/README.md.
//
//	go run ./bench -case p1,p2 -subjects sluiced,relay,socat,rsyslog -lines 2000000 -replicas 5
//	go run ./bench -smoke
package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Options are the harness's settings, one per flag.
type Options struct {
	Cases    []string
	Subjects []string // nil: each case's own (Case.Subjects, else DefaultSubjects)
	Lines    int
	Replicas int
	Format   string
	Framing  string // "" keeps each case's framing
	Rate     float64
	Pin      bool
	Nice     int // if not 0, subjects run under nice -n Nice
	OutDir   string
	DiskDir  string // Disk cases (p7): directory on a disk; relative to the module root
	Conns    int    // if > 0, connections or HTTP clients of every case
	Batch    int    // if > 0, events per HTTP request
	Results  string // directory for result files; "" writes none
	Timeout  time.Duration
	Keep     bool
	Profile  bool
	Prealloc bool
	Smoke    bool
	Command  string // the command line, for the reports
	// Soak and SoakRate: the soak case's length and rate (lines/s; 0:
	// half of sluiced-defaults' p1 rate in the same invocation, else
	// defaultSoakRate).
	Soak     time.Duration
	SoakRate float64
	Summary  string // if set, the summary table (summary.go) is also written to this file
}

// SmokeOptions is what -smoke runs: small, quick, sluiced and the relay
// (p1, p2, p2t, p6), sluiced with both buffers and the
// disk ceiling (p7), and a failure on any missing or duplicated line.
func SmokeOptions() Options {
	return Options{
		Cases: []string{"p1", "p2", "p2t", "p6", "p7"}, Subjects: []string{"sluiced", "relay", "sluiced-disk", "sluiced-memory", "ceiling"},
		Lines: 5000, Replicas: 1, Format: Format5424, OutDir: defaultOutDir(), DiskDir: defaultDiskDir,
		Timeout: 60 * time.Second, Smoke: true, Command: "go run ./bench -smoke",
	}
}

// defaultDiskDir is -diskdir's default, relative to the module root
// (gitignored).
const defaultDiskDir = "bench/results/tmp"

func defaultOutDir() string {
	if ok, _ := IsTmpfs("/dev/shm"); ok {
		return "/dev/shm"
	}
	return os.TempDir()
}

func main() {
	var o Options
	var cases, subjects string
	flag.StringVar(&cases, "case", "p1", "comma-separated cases: p1, p1b, p2, p2t, p5, p6, p7, pw, idle, soak, or all")
	flag.StringVar(&subjects, "subjects", "", "comma-separated subjects; each case runs those it knows (default: all it knows: "+strings.Join(DefaultSubjects, ",")+"; for p7 "+strings.Join(p7Subjects(), ",")+")")
	flag.IntVar(&o.Lines, "lines", 2_000_000, "lines per replica")
	flag.IntVar(&o.Replicas, "replicas", 5, "replicas per subject, interleaved")
	flag.StringVar(&o.Format, "format", Format5424, "line format: 5424, 3164, nginx, 1k")
	flag.StringVar(&o.Framing, "framing", "", `TCP framing: "lf" or "octet" (default: the case's, lf)`)
	flag.Float64Var(&o.Rate, "rate", 0, "lines per second over all connections; 0 = as fast as possible")
	flag.BoolVar(&o.Pin, "pin", false, "pin the harness (generator) to CPU 1 and each subject to CPU 0 with taskset")
	flag.IntVar(&o.Nice, "nice", 0, "run every subject under nice -n N (e.g. -20 on a machine loaded by others, so that latency shows the subject's own delays more than the scheduler's)")
	flag.StringVar(&o.OutDir, "outdir", defaultOutDir(), "directory on tmpfs for the subjects' files")
	flag.StringVar(&o.DiskDir, "diskdir", defaultDiskDir, "directory on a disk (not tmpfs) for the subjects' spools and files in p7; relative to the module root")
	flag.IntVar(&o.Conns, "conns", 0, "connections (TCP, UDP) or HTTP clients (p7); 0 keeps each case's")
	flag.IntVar(&o.Batch, "batch", 0, "events per HTTP request (p7); 0 keeps the case's (100)")
	flag.StringVar(&o.Results, "results", "bench/results", `directory (relative to the module root) for result files; "" writes none`)
	flag.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "per-replica timeout")
	flag.BoolVar(&o.Keep, "keep", false, "keep the subjects' directories")
	flag.BoolVar(&o.Prealloc, "prealloc", true, "allocate a file sink's pages on tmpfs before each replica, so that no subject pays the kernel (or, in a VM that returns free memory to its host, the host) for new pages")
	flag.BoolVar(&o.Profile, "profile", false, "sluiced writes a CPU profile of each replica, cpu.pprof, in its directory (implies -keep)")
	flag.DurationVar(&o.Soak, "soak", time.Minute, "length of the soak case (BENCH.md R6 asks for 30m); a soak runs one replica")
	flag.Float64Var(&o.SoakRate, "soakrate", 0, "lines/s of the soak case; 0 = half of sluiced-defaults' p1 rate measured earlier in the same invocation, else 50000")
	flag.StringVar(&o.Summary, "summary", "", "also write the summary table (every case and subject of the run, and the goals of issue 20) to this markdown file")
	before := flag.String("before", "", "a sluiced binary of another build (such as main's): adds the subjects sluiced-before and sluiced-defaults-before, which run it, for A/B within one run")
	dump := flag.String("dump", "", "write the load (-lines lines of -format, -framing) to this file and exit: the same bytes a run sends, for profiling a subject by hand")
	smoke := flag.Bool("smoke", false, "CI smoke run: p1, p2, p2t, p6 (sluiced, relay) and p7 (sluiced-disk, sluiced-memory, ceiling), 5000 lines, 1 replica; fails on any loss or duplicate")
	flag.Parse()
	o.Cases = strings.Split(cases, ",")
	if subjects != "" {
		o.Subjects = strings.Split(subjects, ",")
	}
	o.Command = "go run ./bench " + strings.Join(os.Args[1:], " ")
	if *before != "" {
		if err := addBefore(*before); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	if *dump != "" {
		if err := dumpLoad(*dump, o); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *smoke {
		o = SmokeOptions()
	}
	if o.Pin && os.Getenv("SLUICE_BENCH_PINNED") == "" {
		if err := repin(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	if err := Main(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// repin re-executes the harness under taskset -c 1; it returns only on
// failure.
func repin() error {
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		return fmt.Errorf("-pin needs taskset: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	env := append(os.Environ(), "SLUICE_BENCH_PINNED=1")
	return syscall.Exec(taskset, append([]string{"taskset", "-c", "1", self}, os.Args[1:]...), env)
}

// Main runs the benchmark described by o and writes the tables to out.
// In smoke mode, any error, missing or duplicated line is an error.
func Main(o Options, out io.Writer) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" || strings.TrimSpace(string(gomod)) == os.DevNull {
		return fmt.Errorf("cannot find the module root (go env GOMOD): %v", err)
	}
	if ok, err := IsTmpfs(o.OutDir); err != nil || !ok {
		fmt.Fprintf(out, "warning: %s is not a tmpfs (%v); results include disk writeback\n", o.OutDir, err)
	}
	bin, err := os.MkdirTemp("", "sluice-bench-bin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)
	if o.Rate > 0 {
		// The generator and the file sink wake on real-time threads
		// (realtime); spare Ps let them run at once when they wake.
		runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), 8))
	}
	env := &Env{ModRoot: filepath.Dir(strings.TrimSpace(string(gomod))), BinDir: bin, Profile: o.Profile}
	o.Keep = o.Keep || o.Profile
	if len(o.Cases) == 1 && o.Cases[0] == "all" {
		o.Cases = nil
		for _, c := range Cases {
			if c.RSS != RSSSoak { // a soak is long: name it
				o.Cases = append(o.Cases, c.Name)
			}
		}
	}

	var cases []Case
	for _, cname := range o.Cases {
		c, ok := findCase(cname)
		if !ok {
			return fmt.Errorf("unknown case %q", cname)
		}
		if o.Framing != "" && c.Network == "tcp" {
			c.Framing = o.Framing
		}
		if o.Conns > 0 {
			c.Conns = o.Conns
		}
		if o.Batch > 0 {
			c.Batch = o.Batch
		}
		cases = append(cases, c)
	}
	o.DiskDir = cmp.Or(o.DiskDir, defaultDiskDir)
	if !filepath.IsAbs(o.DiskDir) {
		o.DiskDir = filepath.Join(env.ModRoot, o.DiskDir)
	}
	where := ""
	if slices.ContainsFunc(cases, func(c Case) bool { return c.Disk }) {
		if err := os.MkdirAll(o.DiskDir, 0o755); err != nil {
			return err
		}
		where = fmt.Sprintf("%s: %s", o.DiskDir, Filesystem(o.DiskDir))
		if ok, _ := IsTmpfs(o.DiskDir); ok {
			fmt.Fprintf(out, "warning: %s is a tmpfs; p7 measures no disk\n", o.DiskDir)
		}
	}

	for _, name := range o.Subjects {
		if Subjects[name] == nil {
			return fmt.Errorf("unknown subject %q", name)
		}
	}
	// Prepare every subject some case runs, once; a failure makes it a
	// skipped row.
	var names []string
	for _, c := range cases {
		for _, name := range caseSubjects(o, c) {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	skip := map[string]string{}
	version := map[string]string{}
	for _, name := range names {
		s := Subjects[name]
		if err := s.Prepare(env); err != nil {
			skip[name] = err.Error()
			if o.Smoke {
				return fmt.Errorf("smoke: %s: %v", name, err)
			}
			continue
		}
		version[name] = s.Version(env)
	}

	machine := Machine(env.ModRoot)
	fmt.Fprintf(out, "## sluice benchmark\n\nCommand: `%s`\n\n%s\n", o.Command, machine)
	var failures []string
	loads := map[string]*Load{}
	var done []CaseRows
	sluicedRate := map[string]Row{}
	for _, c := range cases {
		var rows []Row
		format := cmp.Or(c.Format, o.Format)
		if c.Pending == "" {
			key := fmt.Sprint(format, c.Framing, o.Lines)
			if loads[key] == nil {
				if loads[key], err = BuildLoad(format, c.Framing, o.Lines); err != nil {
					return err
				}
			}
			if c.RSS == RSSSoak && o.SoakRate == 0 {
				o.SoakRate = soakRate(done)
			}
			rows = runCase(env, o, c, loads[key], skip, version)
		}
		done = append(done, CaseRows{Case: c, Rows: rows, Rate: o.Rate})
		start := time.Now().UTC()
		var b strings.Builder
		caseWhere := ""
		if c.Disk {
			caseWhere = where
		}
		WriteTable(&b, c, rows, o.Lines, caseWhere)
		if o.Rate > 0 && c.Sink == SinkFile && c.RSS == "" {
			dir := o.OutDir
			if c.Disk {
				dir = o.DiskDir
			}
			if p50, p99, err := fsyncCost(dir); err == nil {
				fmt.Fprintf(&b, "Durable: a line is counted when it is visible in the file. Subjects that fsync (sluiced-defaults: each batch, before its ack) make it durable when fdatasync(2) returns, later by the cost of one: on this output's filesystem (%s), a 4 KiB write + fdatasync takes p50 %v, p99 %v (BENCH.md L1: durable p99 ≤ fsync p99 + 2 ms).\n\n",
					Filesystem(dir), p50.Round(time.Microsecond), p99.Round(time.Microsecond))
			}
		}
		if c.Name == "p6" || c.Name == "p2" {
			sluicedRate[c.Name] = rowByName(rows, "sluiced")
			if p6, p2 := median(sluicedRate["p6"].LinesPS), median(sluicedRate["p2"].LinesPS); p6 > 0 && p2 > 0 {
				fmt.Fprintf(&b, "sluiced p6 ÷ sluiced p2 (same invocation, output lines/s): %s (BENCH.md P6: ≥0.5×).\n\n", ratio(p6, p2))
			}
		}
		fmt.Fprint(out, b.String())
		for _, r := range rows {
			if o.Smoke && (r.Missing > 0 || r.Dups > 0 || (r.Note != "" && !skippedOK(c, r)) || len(r.LinesPS) != len(r.Runs)) {
				failures = append(failures, fmt.Sprintf("%s/%s: missing %d, duplicates %d %s", c.Name, r.Subject, r.Missing, r.Dups, r.Note))
			}
			for _, run := range r.Runs {
				if run.Err != nil {
					fmt.Fprintf(out, "<details><summary>%s replica %d error</summary>\n\n```\n%v\n```\n</details>\n\n", r.Subject, run.Replica, run.Err)
				}
			}
		}
		if o.Results != "" && c.Pending == "" {
			dir := o.Results
			if !filepath.IsAbs(dir) {
				dir = filepath.Join(env.ModRoot, dir)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			name := filepath.Join(dir, fmt.Sprintf("%s-%s.md", c.Name, start.Format("20060102T150405Z")))
			outOn := o.OutDir
			if c.Disk {
				outOn = where
			}
			conns := fmt.Sprintf("%d connection(s)", c.Conns)
			if c.Network == "http" {
				conns = fmt.Sprintf("%d HTTP client(s), %d events per request", c.Conns, c.Batch)
			}
			switch {
			case c.Sink == SinkTCP:
				outOn = "a TCP sink in the harness"
			case c.Sink == SinkHTTP:
				outOn = "an HTTP sink in the harness"
			case o.Prealloc && !c.Disk:
				outOn += " (the file's pages allocated before each replica)"
			}
			text := fmt.Sprintf("# %s\n\nCommand: `%s`\n\nLoad: %s lines, seed %d, framing %s, %s, rate %s; output on %s; pinned: %v; subjects' nice: %d.\n\n%s\n%s",
				c.Name, o.Command, format, Seed, c.Framing, conns, rateText(o.Rate), outOn, o.Pin, o.Nice, machine, b.String())
			if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(out, "Written to %s\n\n", name)
		}
	}
	if err := writeSummary(out, o, env.ModRoot, machine, done); err != nil {
		return err
	}
	if len(failures) > 0 {
		return errors.New("smoke failed: " + strings.Join(failures, "; "))
	}
	return nil
}

func rateText(r float64) string {
	if r <= 0 {
		return "as fast as possible"
	}
	return fmt.Sprintf("%.0f lines/s", r)
}

// caseSubjects are the subjects that run case c: those of -subjects that
// the case knows (Case.Subjects, else DefaultSubjects), or all it knows.
func caseSubjects(o Options, c Case) []string {
	known := c.Subjects
	if known == nil {
		known = DefaultSubjects
	}
	if o.Subjects == nil {
		return known
	}
	var out []string
	for _, name := range o.Subjects {
		if slices.Contains(known, name) {
			out = append(out, name)
		}
	}
	return out
}

// skippedOK reports whether row r of case c is skipped for a reason the
// smoke mode accepts: the subject does not support the case.
func skippedOK(c Case, r Row) bool {
	s := Subjects[r.Subject]
	return len(r.Runs) == 0 && s != nil && s.Supports(c) != ""
}

func rowByName(rows []Row, name string) Row {
	for _, r := range rows {
		if r.Subject == name {
			return r
		}
	}
	return Row{}
}

func p7Subjects() []string {
	c, _ := findCase("p7")
	return c.Subjects
}

func findCase(name string) (Case, bool) {
	for _, c := range Cases {
		if c.Name == name {
			return c, true
		}
	}
	return Case{}, false
}

// runCase runs every subject on c, replicas interleaved (A B A B ...).
func runCase(env *Env, o Options, c Case, load *Load, skip, version map[string]string) []Row {
	runs := map[string][]Result{}
	notes := map[string]string{}
	var active []*Subject
	names := caseSubjects(o, c)
	for _, name := range names {
		s := Subjects[name]
		switch {
		case skip[name] != "":
			notes[name] = skip[name]
		case s.Supports(c) != "":
			notes[name] = "skipped: " + s.Supports(c)
		default:
			active = append(active, s)
		}
	}
	ro := RunOptions{OutDir: o.OutDir, DiskDir: o.DiskDir, Rate: o.Rate, Timeout: o.Timeout, Pin: o.Pin, Nice: o.Nice, Keep: o.Keep, Prealloc: o.Prealloc,
		Soak: o.Soak, SoakRate: o.SoakRate}
	replicas := o.Replicas
	if c.RSS == RSSSoak {
		replicas = 1 // a soak is long: one
	}
	for rep := 1; rep <= replicas; rep++ {
		for _, s := range active {
			r := RunReplica(env, s, c, load, rep, ro)
			acked := ""
			if c.Network == "http" {
				acked = fmt.Sprintf(" (acked in %v)", r.Acked.Round(time.Millisecond))
			}
			kept := ""
			if ro.Keep {
				kept = ", kept in " + r.Dir
			}
			if c.RSS != "" && len(r.RSS) > 0 {
				last := r.RSS[len(r.RSS)-1]
				fmt.Fprintf(os.Stderr, "%s %s #%d: after %v, %d lines sent, RSS %.1f MiB (anonymous %.1f), missing %d, dup %d, err %v%s\n", c.Name, s.Name, rep,
					last.At.Round(time.Second), last.Lines, float64(last.RSS)/(1<<20), float64(last.Anon)/(1<<20), r.Verdict.Missing, r.Verdict.Duplicates, firstLineOf(r.Err), kept)
				runs[s.Name] = append(runs[s.Name], r)
				continue
			}
			lat := ""
			if l := r.Latency; l.N > 0 {
				lat = fmt.Sprintf(", latency p50 %v p99 %v p999 %v max %v (generator late p99 %v; subject waited for a CPU %v)", l.P50.Round(time.Microsecond), l.P99.Round(time.Microsecond),
					l.P999.Round(time.Microsecond), l.Max.Round(time.Microsecond), l.LateP99.Round(time.Microsecond), r.Queued.Round(time.Millisecond))
			}
			fmt.Fprintf(os.Stderr, "%s %s #%d: %d lines in %v%s, cpu %.2fs, missing %d, dup %d%s, err %v%s\n",
				c.Name, s.Name, rep, r.Delivered(), r.E2E.Round(time.Millisecond), acked, r.CPU, r.Verdict.Missing, r.Verdict.Duplicates, lat, firstLineOf(r.Err), kept)
			runs[s.Name] = append(runs[s.Name], r)
		}
	}
	var rows []Row
	for _, name := range names {
		row := Summarise(name, version[name], runs[name])
		if notes[name] != "" {
			row.Note = notes[name]
		}
		rows = append(rows, row)
	}
	return rows
}

func firstLineOf(err error) string {
	if err == nil {
		return "none"
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// dumpLoad writes the load o describes to path.
func dumpLoad(path string, o Options) error {
	framing := o.Framing
	if framing == "" {
		framing = FramingLF
	}
	l, err := BuildLoad(o.Format, framing, o.Lines)
	if err != nil {
		return err
	}
	return os.WriteFile(path, l.Buf, 0o644)
}
