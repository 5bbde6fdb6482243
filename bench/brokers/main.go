// Command brokers benchmarks sluiced's Kafka, NATS JetStream and MQTT
// connectors against plain client-library loops doing the same work with
// the same broker, in one run (issue 15):
//
//	kafka-produce  file → Kafka: sluiced (file source → kafka destination,
//	               acks all, idempotent, snappy), a plain franz-go loop
//	               (Produce per line, then Flush) and kcat -P -l, each
//	               reading the same file into a fresh topic
//	kafka-consume  Kafka → file: sluiced (kafka source in a group → file
//	               destination, format raw, or json with -file-format) and a
//	               plain franz-go group loop (PollFetches, write, fsync,
//	               CommitRecords)
//	nats-produce   file → JetStream: sluiced and a plain nats.go
//	               PublishAsync loop
//	nats-consume   JetStream → file: sluiced and a plain durable pull
//	               consumer (Fetch, write, fsync, Ack)
//	mqtt-produce   file → mosquitto at QoS 1: sluiced and a plain paho
//	               loop (1000 publishes in flight)
//	mqtt-consume   mosquitto → file: a persistent session holding the
//	               events; sluiced and a plain paho subscriber
//
// The Kafka broker is kfake (franz-go's in-process cluster) in its own
// process on a TCP port, since no real Kafka is at hand; NATS is Debian's
// nats-server -js; MQTT is Debian's mosquitto. Each subject runs as its
// own process; its wall time runs from its start until every event is at
// the broker (counted there) or in the output file, and its CPU seconds
// and peak RSS are read from /proc (or, for kcat, which exits, from its
// rusage). Replicas are interleaved. The ratio is sluiced's events/s over
// the plain loop's (medians), with the spread of the ratios of replicas
// run side by side; the CPU-s ratio is that of the median CPU seconds,
// which a loaded machine disturbs less than the wall time.
//
//	go run ./bench/brokers -events 200000 -replicas 3
//	go run ./bench/brokers -case kafka-consume -file-format json -before /tmp/sluiced-main   # sluiced writes JSON events, beside another build
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/sluicehq/sluice/bench/internal/benchproc"
)

var (
	events     = flag.Int("events", 200000, "events per replica")
	replicas   = flag.Int("replicas", 3, "replicas of each subject, interleaved; the median and the min–max are reported")
	cases      = flag.String("case", "all", "comma-separated cases (kafka-produce, kafka-consume, nats-produce, nats-consume, mqtt-produce, mqtt-consume) or all")
	outdir     = flag.String("outdir", "/dev/shm", "directory for files and broker state")
	before     = flag.String("before", "", "a sluiced binary of another build, run beside this one's as \"(before)\" subjects")
	fileFormat = flag.String("file-format", "raw", "the file destination's format in the consume cases: raw (the lines, as the plain loops write them) or json (the daemon's default: each event as JSON, the line kept in raw)")
	profile    = flag.Bool("profile", false, "sluiced writes a CPU profile of each run, cpu.pprof in its directory, which is kept")
	role       = flag.String("role", "", "internal: kfake or a plain loop")
	addr       = flag.String("addr", "", "internal: the broker's address")
	target     = flag.String("target", "", "internal: topic, subject or stream")
	in         = flag.String("in", "", "internal: the input file")
	out        = flag.String("out", "", "internal: the output file")
)

// lineLen is the length of every line, newline included: a consumer's
// output file holds n events once it holds n*lineLen bytes.
const lineLen = 234

// line returns event i: an RFC 5424 line with its sequence number.
func line(i int) string {
	return fmt.Sprintf("<134>1 2026-01-02T03:04:05.000006Z web01 app 42 ID7 - seq=%010d %0164d", i, 0)
}

func main() {
	flag.Parse()
	if *role != "" {
		if err := plain(*role); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

// env is what the cases share.
type env struct {
	self, sluiced, dir, input string
	n                         int
}

// subject is one thing measured: run measures replica i.
type subject struct {
	name  string
	plain bool // the baseline of its case's ratio
	run   func(i int) (benchproc.Result, error)
}

// benchCase sets up a broker and returns the subjects; stop ends it.
type benchCase struct {
	name  string
	needs []string // programs that must be installed
	// versus names a second baseline, whose ratio to sluiced is printed
	// under the table ("" for none).
	versus string
	setup  func(e *env) (subjects []subject, stop func(), err error)
}

var allCases = []benchCase{kafkaProduce, kafkaConsume, natsProduce, natsConsume, mqttProduce, mqttConsume}

func run() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(*outdir, "brokerbench")
	if err != nil {
		return err
	}
	if *profile {
		defer fmt.Printf("\nprofiles kept in %s/*/cpu.pprof\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	e := &env{self: self, dir: dir, n: *events, sluiced: filepath.Join(dir, "sluiced"), input: filepath.Join(dir, "in.log")}
	if out, err := exec.Command("go", "build", "-o", e.sluiced, "./cmd/sluiced").CombinedOutput(); err != nil {
		return fmt.Errorf("build sluiced (run from the repository root): %v\n%s", err, out)
	}
	var sb strings.Builder
	for i := range e.n {
		sb.WriteString(line(i))
		sb.WriteByte('\n')
	}
	if sb.Len() != e.n*lineLen {
		return fmt.Errorf("lines of %d bytes, want %d", sb.Len()/e.n, lineLen)
	}
	if err := os.WriteFile(e.input, []byte(sb.String()), 0o644); err != nil {
		return err
	}
	want := strings.Split(*cases, ",")
	fmt.Printf("%d events of %d bytes, %d replicas (median)\n\n", e.n, lineLen-1, *replicas)
	fmt.Println("| case | subject | events/s (min–max) | CPU-s | peak RSS MiB | events/s ratio to plain (min–max of pairs) | CPU-s ratio to plain | events/s from the first event | its ratio |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, c := range allCases {
		if *cases != "all" && !slices.Contains(want, c.name) {
			continue
		}
		if err := runCase(e, c); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
	}
	for _, n := range notes {
		fmt.Printf("\n%s\n", n)
	}
	return nil
}

// notes are printed under the table.
var notes []string

func runCase(e *env, c benchCase) error {
	for _, p := range c.needs {
		if _, err := lookPath(p); err != nil {
			fmt.Printf("| %s | (skipped: %s is not installed) | | | | | | | |\n", c.name, p)
			return nil
		}
	}
	subjects, stop, err := c.setup(e)
	if err != nil {
		return err
	}
	defer stop()
	if *before != "" {
		subjects = withBefore(e, subjects)
	}
	// Replicas are interleaved (replica i of every subject, then i+1), so
	// that a change in the machine's load falls on every subject alike.
	results := make([][]benchproc.Result, len(subjects))
	firsts := make([][]float64, len(subjects)) // seconds to the first event, 0 if unknown
	for i := range *replicas {
		for j, s := range subjects {
			lastFirst = 0
			r, err := s.run(i)
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			results[j] = append(results[j], r)
			firsts[j] = append(firsts[j], lastFirst)
		}
	}
	var base, baseCPU, baseSteady float64
	var baseRuns []benchproc.Result
	rates := map[string]float64{}
	for j, s := range subjects {
		rs := slices.Clone(results[j])
		sort.Slice(rs, func(a, b int) bool { return rs[a].Secs < rs[b].Secs })
		m := rs[len(rs)/2]
		rates[s.name] = m.Rate(e.n)
		ratio, cpu, steadyRatio := "", "", ""
		steady, first := steadyRate(e.n, results[j], firsts[j])
		if s.plain {
			base, baseCPU, baseRuns = m.Rate(e.n), median(results[j], func(r benchproc.Result) float64 { return r.CPU }), results[j]
			baseSteady = steady
		} else if base > 0 {
			// The spread is that of the ratios of replicas run side by side.
			var paired []float64
			for i, r := range results[j] {
				paired = append(paired, baseRuns[i].Secs/r.Secs)
			}
			ratio = fmt.Sprintf("%.2f× (%.2f–%.2f)", m.Rate(e.n)/base, slices.Min(paired), slices.Max(paired))
			cpu = fmt.Sprintf("%.2f×", median(results[j], func(r benchproc.Result) float64 { return r.CPU })/baseCPU)
			if steady > 0 && baseSteady > 0 {
				steadyRatio = fmt.Sprintf("%.2f×", steady/baseSteady)
			}
		}
		st := "–"
		if steady > 0 {
			st = fmt.Sprintf("%.0f (first after %.2f s)", steady, first)
		}
		fmt.Printf("| %s | %s | %.0f (%.0f–%.0f) | %.2f | %.1f | %s | %s | %s | %s |\n", c.name, s.name, m.Rate(e.n),
			rs[len(rs)-1].Rate(e.n), rs[0].Rate(e.n), median(rs, func(r benchproc.Result) float64 { return r.CPU }), float64(m.HWM)/(1<<20),
			ratio, cpu, st, steadyRatio)
	}
	if c.versus != "" {
		for _, s := range subjects {
			if !s.plain && s.name != c.versus {
				notes = append(notes, fmt.Sprintf("%s: %s ÷ %s = %.2f×", c.name, s.name, c.versus, rates[s.name]/rates[c.versus]))
			}
		}
	}
	return nil
}

// steadyRate returns the median rate from the first event seen at the end
// to the last, which leaves out the start (process, connection, group
// join), and the median seconds until that first event; 0, 0 if unknown.
func steadyRate(n int, rs []benchproc.Result, firsts []float64) (rate, first float64) {
	var rates, fs []float64
	for i, r := range rs {
		if f := firsts[i]; f > 0 && r.Secs > f {
			rates, fs = append(rates, float64(n-1)/(r.Secs-f)), append(fs, f)
		}
	}
	if len(rates) == 0 {
		return 0, 0
	}
	slices.Sort(rates)
	slices.Sort(fs)
	return rates[len(rates)/2], fs[len(fs)/2]
}

// median returns the median of f over rs.
func median(rs []benchproc.Result, f func(benchproc.Result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// withBefore adds, before each sluiced subject, the same run with the
// binary given by -before (its replicas numbered from 1000, so that the
// topics, streams and directories stay apart).
func withBefore(e *env, subjects []subject) []subject {
	var out []subject
	for _, s := range subjects {
		if !s.plain && strings.HasPrefix(s.name, "sluiced ") {
			out = append(out, subject{name: s.name + " (before)", run: func(i int) (benchproc.Result, error) {
				now := e.sluiced
				e.sluiced = *before
				defer func() { e.sluiced = now }()
				return s.run(1000 + i)
			}})
		}
		out = append(out, s)
	}
	return out
}

// lookPath finds program in PATH or /usr/sbin (nats-server, mosquitto).
func lookPath(program string) (string, error) {
	if p, err := exec.LookPath(program); err == nil {
		return p, nil
	}
	p := filepath.Join("/usr/sbin", program)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s not found", program)
	}
	return p, nil
}
