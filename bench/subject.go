package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Case is one benchmark scenario: what is sent, how, and what the subject
// must do with it.
type Case struct {
	Name    string
	Desc    string
	Network string // "tcp", "udp" or "http" (NDJSON POSTs)
	Framing string // FramingLF, FramingOctet or FramingNone (UDP)
	Conns   int    // connections, or HTTP clients
	Batch   int    // HTTP: events per request
	Format  string // if set, the load's format whatever -format says
	Parse   bool   // parse syslog and write JSON lines (else pass through)
	Disk    bool   // the subjects' directories (spool, output) are on a disk, not tmpfs
	Sink    string // SinkFile (default), SinkTCP or SinkHTTP: where the subject writes
	Pending string // non-empty: the case cannot run yet, and why
	RSS     string // RSSIdle or RSSSoak: a memory case (rss.go), no throughput
	// Subjects are the subjects that can run the case, and those it runs
	// when -subjects is not given (default: DefaultSubjects).
	Subjects []string
}

// Cases are the scenarios of BENCH.md section 5.1 that the harness knows.
var Cases = []Case{
	{Name: "p1", Desc: "syslog RFC 5424 over TCP → parsed → JSON lines on tmpfs, 1 connection", Network: "tcp", Framing: FramingLF, Conns: 1, Parse: true},
	{Name: "p1b", Desc: "as p1 with 4 connections", Network: "tcp", Framing: FramingLF, Conns: 4, Parse: true},
	{Name: "p2", Desc: "TCP lines → file on tmpfs, passthrough (no parse), 1 connection", Network: "tcp", Framing: FramingLF, Conns: 1},
	{Name: "p2t", Desc: "TCP lines → TCP sink, passthrough (no parse), 1 connection", Network: "tcp", Framing: FramingLF, Conns: 1, Sink: SinkTCP,
		Subjects: []string{"sluiced", "relay", "socat", "socat-128k", "rsyslog", "syslog-ng", "benthos"}},
	{Name: "p5", Desc: "syslog over UDP (sendmmsg) → parsed → file on tmpfs", Network: "udp", Framing: FramingNone, Conns: 1, Parse: true},
	{Name: "p6", Desc: "HTTP NDJSON (250 B events) → HTTP sink (NDJSON POSTs), acked on 2xx", Network: "http", Framing: FramingLF,
		Conns: 8, Batch: 100, Format: FormatJSON, Sink: SinkHTTP, Subjects: []string{"sluiced", "relay", "benthos"}},
	{Name: "p7", Desc: "HTTP NDJSON (250 B events) → disk spool (fsync per batch) → raw file, on disk", Network: "http", Framing: FramingLF,
		Conns: 8, Batch: 100, Format: FormatJSON, Disk: true, Subjects: []string{"sluiced-disk", "sluiced-disk-interval", "sluiced-memory", "ceiling"}},
}

// DefaultSubjects are the subjects of a case that names none.
var DefaultSubjects = []string{"sluiced", "relay", "socat", "socat-128k", "rsyslog", "syslog-ng", "benthos"}

// Env is what subjects share within one invocation.
type Env struct {
	ModRoot string // the module's root directory
	BinDir  string // where binaries are built
	Profile bool   // sluiced writes a CPU profile, cpu.pprof, in its run's directory
}

// Run is one start of a subject.
type Run struct {
	Case Case
	Port int
	Dir  string // the subject's own temporary directory (config, pid, state)
	Out  string // the file it must write (SinkFile)
	Sink string // host:port of the harness's sink (SinkTCP, SinkHTTP)
}

// Subject is a program under test.
type Subject struct {
	Name string
	Work string // what it does, for the report
	// Prepare builds or finds the program; an error means "skip", with
	// the error as the note.
	Prepare func(env *Env) error
	// Supports returns "" if the subject can run case c, else why not.
	Supports func(c Case) string
	// Command returns the command that runs the subject in the foreground.
	Command func(env *Env, r Run) (*exec.Cmd, error)
	// Version describes the program, once prepared.
	Version func(env *Env) string
	// ReadyLog, if set, must appear in the subject's output before it
	// counts as ready (besides its port being bound).
	ReadyLog string
	// Direct, if set, runs the subject inside the harness instead of
	// Command: it writes the load to r.Out and returns the time taken and
	// the CPU seconds used.
	Direct func(r Run, l *Load) (time.Duration, float64, error)
}

// Subjects are all the subjects known, by name.
var Subjects = map[string]*Subject{
	"sluiced":    sluicedSubject(),
	"relay":      relaySubject(),
	"socat":      socatSubject("socat", 0),
	"socat-128k": socatSubject("socat-128k", 131072),
	"rsyslog":    rsyslogSubject(),
	"syslog-ng":  syslogNGSubject(),
	"benthos":    benthosSubject(),

	"sluiced-disk":          sluicedHTTPSubject("sluiced-disk", `{"type": "disk"}`),
	"sluiced-disk-interval": sluicedHTTPSubject("sluiced-disk-interval", `{"type": "disk", "sync": "interval"}`),
	"sluiced-memory":        sluicedHTTPSubject("sluiced-memory", ""),
	"ceiling":               ceilingSubject(),
}

// goBuild builds pkg (relative to the module root) into env.BinDir/name,
// once per invocation, as scripts/build builds releases, so that sluiced
// is measured as users run it: with the tag grpcnotrace (without it,
// gRPC's x/net/trace brings in text/template, whose method lookups keep
// megabytes of methods that the process's start-up then touches:
// docs/packaging.md, "Size"), static (CGO_ENABLED=0: a cgo build maps
// libc and the dynamic loader, about 1.5 MiB more resident) and
// -trimpath. Build a -before binary the same way (bench/README.md).
func goBuild(env *Env, name, pkg string) error {
	if _, err := os.Stat(filepath.Join(env.BinDir, name)); err == nil {
		return nil
	}
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "grpcnotrace", "-o", filepath.Join(env.BinDir, name), pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = env.ModRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return nil
}

func firstLine(name string, args ...string) string {
	out, _ := exec.Command(name, args...).CombinedOutput()
	s, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return s
}

// tunedSyslog is what the tuned profile sets in its syslog source beyond
// the defaults: a hand-off queue deeper than the default 1024 frames,
// which the pipeline, with fsync off, drains in short bursts.
var tunedSyslog = `, "queueSize": 4096`

func sluicedSubject() *Subject {
	return &Subject{
		Name:     "sluiced",
		Work:     "syslog source → file destination (parsed to json with jsonRaw unparsed: the parsed fields without a copy of the raw line, as rsyslog's template writes the parsed fields; for passthrough, format none to raw), fsync off, no rotation, syslog queueSize 4096; p2t: format none → socket destination (tcp, lf framing, format raw, default batching); p6: http source → http destination (format raw: the lines as received, like Benthos; batch " + sluicedHTTPBatch + ")",
		Prepare:  func(env *Env) error { return goBuild(env, "sluiced", "./cmd/sluiced") },
		Supports: func(c Case) string { return "" },
		Version: func(env *Env) string {
			return firstLine(filepath.Join(env.BinDir, "sluiced"), "version")
		},
		ReadyLog: "msg=running",
		Command: func(env *Env, r Run) (*exec.Cmd, error) {
			format, parse := "raw", "none" // passthrough: lines as they came, unparsed
			if r.Case.Parse {
				format, parse = "json", "auto"
			}
			cfg := fmt.Sprintf(`{
  "dataDir": %q,
  "sources": {"in": {"type": "syslog", "addr": "127.0.0.1:%d", "network": %q, "format": %q, "maxMessageBytes": 65536%s}},
  "destinations": {"out": {"type": "file", "path": %q, "format": %q, "jsonRaw": "unparsed", "fsync": false, "maxBytes": 0}},
}
`, filepath.Join(r.Dir, "data"), r.Port, r.Case.Network, parse, tunedSyslog, r.Out, format)
			if r.Case.Sink == SinkTCP {
				cfg = fmt.Sprintf(`{
  "dataDir": %q,
  "sources": {"in": {"type": "syslog", "addr": "127.0.0.1:%d", "network": %q, "format": "none", "maxMessageBytes": 65536}},
  "destinations": {"out": {"type": "socket", "addr": %q, "format": "raw", "framing": "lf"}},
}
`, filepath.Join(r.Dir, "data"), r.Port, r.Case.Network, r.Sink)
			}
			if r.Case.Sink == SinkHTTP {
				cfg = fmt.Sprintf(`{
  "dataDir": %q,
  "sources": {"in": {"type": "http", "addr": "127.0.0.1:%d", "path": "/", "format": "auto", "maxEvents": 100000, "maxBodyBytes": 33554432}},
  "destinations": {"out": {"type": "http", "url": "http://%s/", "format": "raw", "batch": %s}},
}
`, filepath.Join(r.Dir, "data"), r.Port, r.Sink, sluicedHTTPBatch)
			}
			return sluicedCommand(env, r, cfg)
		},
	}
}

// sluicedCommand writes cfg to the run's directory and returns the
// command that runs sluiced on it.
func sluicedCommand(env *Env, r Run, cfg string) (*exec.Cmd, error) {
	path := filepath.Join(r.Dir, "sluiced.hujson")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(env.BinDir, "sluiced"), "run", "--config", path)
	if env.Profile {
		cmd.Args = append(cmd.Args, "--cpuprofile", filepath.Join(r.Dir, "cpu.pprof"))
	}
	cmd.Dir = r.Dir
	return cmd, nil
}

// sluicedHTTPBatch is the http destination's batching in p6: up to 1000
// events per POST, cut after 5 ms (the default age, 1 s, would hold each
// request's 200 that long).
const sluicedHTTPBatch = `{"count": 1000, "age": "5ms", "eager": true}`

// sluicedHTTPSubject is sluiced with the http source and a raw file
// destination whose buffer is buffer (JSON; "" for memory, the default).
func sluicedHTTPSubject(name, buffer string) *Subject {
	bufferField, work := "", "memory buffer (the destination's own batching)"
	if buffer != "" {
		bufferField, work = `, "buffer": `+buffer, "buffer "+buffer+" (spool under dataDir/spool/out)"
	}
	return &Subject{
		Name:     name,
		Work:     "http source (lines) → file destination, format raw, default batching (eager: a batch is written as soon as the last write is done) and fsync per batch (so memory mode is durable too), " + work,
		Prepare:  func(env *Env) error { return goBuild(env, "sluiced", "./cmd/sluiced") },
		Supports: func(Case) string { return "" },
		Version: func(env *Env) string {
			return firstLine(filepath.Join(env.BinDir, "sluiced"), "version")
		},
		ReadyLog: "msg=running",
		Command: func(env *Env, r Run) (*exec.Cmd, error) {
			cfg := fmt.Sprintf(`{
  "dataDir": %q,
  "sources": {"in": {"type": "http", "addr": "127.0.0.1:%d", "path": "/", "format": "auto", "maxEvents": 100000, "maxBodyBytes": 33554432}},
  "destinations": {"out": {"type": "file", "path": %q, "format": "raw", "maxBytes": 0%s}},
}
`, filepath.Join(r.Dir, "data"), r.Port, r.Out, bufferField)
			return sluicedCommand(env, r, cfg)
		},
	}
}

func relaySubject() *Subject {
	return &Subject{
		Name:    "relay",
		Work:    "naive Go relay (bench/relay): TCP bufio lines, or UDP recvmmsg datagrams, → buffered file (p2t: → one buffered TCP connection to the sink); p6: each request body POSTed unchanged to the sink, answered with its status; the framework-overhead ceiling",
		Prepare: func(env *Env) error { return goBuild(env, "relay", "./bench/relay") },
		Supports: func(c Case) string {
			if c.Framing == FramingOctet {
				return "splits lines only"
			}
			return ""
		},
		Version: func(*Env) string { return "bench/relay" },
		Command: func(env *Env, r Run) (*exec.Cmd, error) {
			out := r.Out
			switch r.Case.Sink {
			case SinkTCP:
				out = "tcp://" + r.Sink
			case SinkHTTP:
				out = "http://" + r.Sink + "/"
			}
			return exec.Command(filepath.Join(env.BinDir, "relay"), "-network", r.Case.Network,
				"-addr", fmt.Sprintf("127.0.0.1:%d", r.Port), "-out", out), nil
		},
	}
}

// socatSubject is the raw-copy ceiling; block 0 keeps socat's default.
func socatSubject(name string, block int) *Subject {
	var path string
	return &Subject{
		Name: name,
		Work: "raw copy TCP → file, or TCP → TCP in p2t (no framing, no parse)",
		Prepare: func(*Env) error {
			var err error
			path, err = exec.LookPath("socat")
			return err
		},
		Supports: func(c Case) string {
			if c.Network != "tcp" || c.Conns != 1 || c.Framing != FramingLF {
				return "single-connection TCP line copy only"
			}
			return ""
		},
		Version: func(*Env) string {
			out, _ := exec.Command(path, "-V").CombinedOutput()
			for l := range strings.SplitSeq(string(out), "\n") {
				if strings.Contains(l, "socat version") {
					return strings.TrimSpace(l)
				}
			}
			return "socat"
		},
		Command: func(env *Env, r Run) (*exec.Cmd, error) {
			args := []string{"-u"}
			if block > 0 {
				args = append(args, "-b", fmt.Sprint(block))
			}
			out := "OPEN:" + r.Out + ",creat,append"
			if r.Case.Sink == SinkTCP {
				out = "TCP:" + r.Sink
			}
			args = append(args, fmt.Sprintf("TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr", r.Port), out)
			return exec.Command(path, args...), nil
		},
	}
}

func rsyslogSubject() *Subject {
	var path string
	return &Subject{
		Name: "rsyslog",
		Work: "imptcp/imudp → omfile with RSYSLOG_FileFormat (parses the header, reformats), or %rawmsg% for passthrough; p2t: omfwd TCP (LF framing) with %rawmsg%; default queues",
		Prepare: func(*Env) error {
			for _, p := range []string{"rsyslogd", "/usr/sbin/rsyslogd"} {
				if lp, err := exec.LookPath(p); err == nil {
					path = lp
					return nil
				}
			}
			return errors.New("rsyslogd not found (apt-get install rsyslog)")
		},
		Supports: func(c Case) string { return "" },
		Version: func(*Env) string {
			v, _, _ := strings.Cut(firstLine(path, "-v"), " compiled with")
			return strings.Join(strings.Fields(v), " ")
		},
		Command: func(env *Env, r Run) (*exec.Cmd, error) {
			input := fmt.Sprintf(`module(load="imptcp")
input(type="imptcp" address="127.0.0.1" port="%d")`, r.Port)
			if r.Case.Network == "udp" {
				input = fmt.Sprintf(`module(load="imudp")
input(type="imudp" address="127.0.0.1" port="%d")`, r.Port)
			}
			// Passthrough writes the message as received; parsing writes
			// the reformatted RSYSLOG_FileFormat line.
			tmpl := "RSYSLOG_FileFormat"
			if !r.Case.Parse {
				tmpl = "raw"
			}
			output := fmt.Sprintf(`action(type="omfile" file=%q template=%q)`, r.Out, tmpl)
			if r.Case.Sink == SinkTCP {
				host, port, _ := strings.Cut(r.Sink, ":")
				output = fmt.Sprintf(`action(type="omfwd" target=%q port=%q protocol="tcp" template="fwd")`, host, port)
			}
			cfg := fmt.Sprintf(`global(workDirectory=%q maxMessageSize="64k")
template(name="raw" type="string" string="%%rawmsg%%\n")
template(name="fwd" type="string" string="%%rawmsg%%")
%s
%s
`, r.Dir, input, output)
			conf := filepath.Join(r.Dir, "rsyslog.conf")
			if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
				return nil, err
			}
			return exec.Command(path, "-n", "-f", conf, "-i", filepath.Join(r.Dir, "rsyslogd.pid")), nil
		},
	}
}
