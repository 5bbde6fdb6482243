package daemon

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

const topHelp = `top [--addr HOST:PORT | --config FILE] [--interval D] [--once]

Shows each source, route, handler, disk buffer and destination of a running
sluiced, read from its admin listener's /metrics, redrawn every --interval
until interrupted. --once samples twice, --interval apart, prints one table
and exits, for scripts.

Columns: IN/s and OUT/s, events a second in and out over the last interval
(for a source, OUT/s is what was acked downstream: delivered, or filtered
out); IN, OUT, ACKED and ERRORS since the start; DEPTH, the events held:
for a source, received and not yet acked; for a destination, in flight
(handed to it, not yet written); for a disk buffer, records in its spool not
yet acked; LAG, a disk buffer's oldest record not yet acked. "-" marks what a
kind does not count.`

// topCmd runs "sluiced top".
func topCmd(args []string, stdout, stderr io.Writer, r *Registry) int {
	fs := flag.NewFlagSet("sluiced top", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintf(stderr, "Usage: sluiced %s\n\n", topHelp); fs.PrintDefaults() }
	addr, path := adminFlags(fs)
	interval := fs.Duration("interval", 2*time.Second, "time between samples")
	once := fs.Bool("once", false, "print one table and exit")
	if err := fs.Parse(args); err != nil {
		return exitUsage(err)
	}
	if fs.NArg() > 0 || *interval <= 0 {
		return exitUsage(usageError(fs, "want flags only and a positive --interval, got %q", args))
	}
	base, err := adminURL(*addr, *path, r)
	if err != nil {
		fmt.Fprintln(stderr, "sluiced top:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	prev, err := scrape(ctx, base)
	for err == nil {
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(*interval):
		}
		var cur *topSample
		if cur, err = scrape(ctx, base); err != nil {
			break
		}
		if !*once {
			fmt.Fprint(stdout, "\x1b[H\x1b[2J") // home, clear
		}
		fmt.Fprintf(stdout, "sluiced at %s, %s, %s\n\n", strings.TrimPrefix(base, "http://"), cur.at.Format(time.TimeOnly), cur.ready)
		writeTop(stdout, prev, cur)
		if *once {
			return 0
		}
		prev = cur
	}
	if ctx.Err() != nil {
		return 0
	}
	fmt.Fprintln(stderr, "sluiced top:", err)
	return 1
}

// adminFlags defines --addr and --config, which say where the admin
// listener is.
func adminFlags(fs *flag.FlagSet) (addr, path *string) {
	addr = fs.String("addr", "", "the admin listener's `host:port` (default: the config's admin.addr, else 127.0.0.1:9595)")
	path = fs.String("config", "", "read admin.addr from this config `file`")
	return addr, path
}

// adminURL returns the base URL of the admin listener at addr, or named
// by the config at path, or the default address.
func adminURL(addr, path string, r *Registry) (string, error) {
	if addr == "" && path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		p, err := Load(data, r)
		if err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		if p.File.Admin == nil {
			return "", fmt.Errorf(`%s has no admin listener: add "admin": {"addr": "127.0.0.1:9595"}`, path)
		}
		addr = p.File.Admin.Addr
	}
	if addr == "" {
		addr = "127.0.0.1:9595"
	}
	return "http://" + addr, nil
}

// topRow is one component's figures in a sample; -1 where its kind has
// none.
type topRow struct {
	in, out, acked, errors, depth, lag float64
}

type topSample struct {
	at    time.Time
	ready string
	rows  map[string]*topRow // by "kind/name"
}

// scrape reads /metrics and /readyz at base.
func scrape(ctx context.Context, base string) (*topSample, error) {
	get := func(path string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return nil, err
		}
		return http.DefaultClient.Do(req)
	}
	resp, err := get("/metrics")
	if err != nil {
		return nil, fmt.Errorf("cannot reach the admin listener (is admin set in the config, and sluiced running?): %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/metrics: %s", base, resp.Status)
	}
	s, err := parseMetrics(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s/metrics: %w", base, err)
	}
	s.ready = "ready"
	if resp, err := get("/readyz"); err != nil {
		s.ready = "readyz: " + err.Error()
	} else {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		s.ready = strings.TrimSpace(string(b))
	}
	return s, nil
}

// parseMetrics reads the sluice_ series of a Prometheus text page into
// rows.
func parseMetrics(r io.Reader) (*topSample, error) {
	s := &topSample{at: time.Now(), rows: map[string]*topRow{}}
	row := func(kind, name string) *topRow {
		k := kind + "/" + name
		if s.rows[k] == nil {
			s.rows[k] = &topRow{in: -1, out: -1, acked: -1, errors: -1, depth: -1, lag: -1}
		}
		return s.rows[k]
	}
	add := func(f *float64, v float64) { *f = max(*f, 0) + v }
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "sluice_") {
			continue
		}
		name, labels, v, err := parseSeries(line)
		if err != nil {
			return nil, err
		}
		switch kind, comp := labels["kind"], labels["name"]; name {
		case "sluice_events_in_total":
			add(&row(kind, comp).in, v)
		case "sluice_events_out_total":
			add(&row(kind, comp).out, v)
		case "sluice_acked_total":
			add(&row(kind, comp).acked, v)
		case "sluice_errors_total":
			add(&row(kind, comp).errors, v)
		case "sluice_in_flight_events":
			add(&row(kind, comp).depth, v)
		case "sluice_spool_records":
			add(&row("buffer", labels["buffer"]).depth, v)
		case "sluice_spool_oldest_unacked_age_seconds":
			add(&row("buffer", labels["buffer"]).lag, v)
		}
	}
	for k, r := range s.rows {
		if strings.HasPrefix(k, "source/") && r.in >= 0 {
			r.depth = r.in - max(r.acked, 0)
		}
		if r.errors < 0 && r.in >= 0 {
			r.errors = 0 // errors show only once counted
		}
	}
	return s, sc.Err()
}

// parseSeries splits a line of the text format, name{l="v",...} value.
func parseSeries(line string) (name string, labels map[string]string, v float64, err error) {
	bad := func() (string, map[string]string, float64, error) {
		return "", nil, 0, fmt.Errorf("cannot parse %q", line)
	}
	labels = map[string]string{}
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return bad()
	}
	name, rest := line[:i], line[i:]
	if rest[0] == '{' {
		rest = rest[1:]
		for !strings.HasPrefix(rest, "}") {
			k, after, ok := strings.Cut(rest, `="`)
			if !ok {
				return bad()
			}
			var val strings.Builder
			j := 0
			for ; j < len(after) && after[j] != '"'; j++ {
				c := after[j]
				if c == '\\' && j+1 < len(after) {
					j++
					c = map[byte]byte{'n': '\n'}[after[j]]
					if c == 0 {
						c = after[j]
					}
				}
				val.WriteByte(c)
			}
			if j == len(after) {
				return bad()
			}
			labels[k] = val.String()
			rest = strings.TrimPrefix(after[j+1:], ",")
		}
		rest = rest[1:]
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return bad()
	}
	if v, err = strconv.ParseFloat(f[0], 64); err != nil {
		return bad()
	}
	return name, labels, v, nil
}

var topKinds = []string{"source", "route", "handler", "buffer", "destination"}

// writeTop writes the table of cur, with rates since prev.
func writeTop(w io.Writer, prev, cur *topSample) {
	keys := make([]string, 0, len(cur.rows))
	for k := range cur.rows {
		keys = append(keys, k)
	}
	order := func(k string) int { kind, _, _ := strings.Cut(k, "/"); return slices.Index(topKinds, kind) }
	slices.SortFunc(keys, func(a, b string) int {
		if d := order(a) - order(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	dt := cur.at.Sub(prev.at).Seconds()
	rate := func(k string, f func(*topRow) float64) string {
		p, ok := prev.rows[k]
		now := f(cur.rows[k])
		if !ok || now < 0 || f(p) < 0 || now < f(p) || dt <= 0 {
			return "-"
		}
		return strconv.FormatFloat((now-f(p))/dt, 'f', 1, 64)
	}
	n := func(v float64) string {
		if v < 0 {
			return "-"
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tIN/s\tOUT/s\tIN\tOUT\tACKED\tERRORS\tDEPTH\tLAG\t")
	for _, k := range keys {
		r := cur.rows[k]
		out := rate(k, func(r *topRow) float64 { return r.out })
		if strings.HasPrefix(k, "source/") {
			out = rate(k, func(r *topRow) float64 { return r.acked })
		}
		lag := "-"
		if r.lag >= 0 {
			lag = (time.Duration(r.lag*10) * time.Second / 10).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", k, rate(k, func(r *topRow) float64 { return r.in }), out,
			n(r.in), n(r.out), n(r.acked), n(r.errors), n(r.depth), lag)
	}
	_ = tw.Flush()
}
