package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/sluicehq/sluice/daemon/config"
)

const usage = `sluiced moves events from sources to destinations, reliably.

Usage:
  sluiced run [[--config] FILE]     run until SIGINT or SIGTERM, then drain and exit;
                                    SIGHUP (or --watch) reloads the config
  sluiced validate [--config] FILE  check a config without running it
  sluiced spool inspect|verify [[--config] FILE]
                                    report on, or check, the disk buffers
  sluiced top [--addr HOST:PORT]    show what a running sluiced does, live
  sluiced tap SOURCE|ROUTE          print a sample of the events passing a point
  sluiced version                   print the version, commit and build date

Run "sluiced COMMAND --help" for a command's flags.
`

// Main runs the sluiced command line with args (without the program name)
// and returns the process's exit code. Signals stop "run": the first drains,
// a second exits at once.
func Main(args []string, stdout, stderr io.Writer, r *Registry) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		return runCmd(rest, stderr, r)
	case "validate":
		return validateCmd(rest, stdout, stderr, r)
	case "spool":
		return spoolCmd(rest, stdout, stderr, r)
	case "top":
		return topCmd(rest, stdout, stderr, r)
	case "tap":
		return tapCmd(rest, stdout, stderr, r)
	case "version":
		version().write(stdout)
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "sluiced: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

func flags(name, help string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("sluiced "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: sluiced %s\n\n", help)
		fs.PrintDefaults()
	}
	return fs, fs.String("config", "", "the HuJSON config `file`")
}

func readConfig(path string) ([]byte, error) {
	if path == "" {
		return DefaultConfig(), nil
	}
	return os.ReadFile(path)
}

// load reads and loads the config at path (the default if empty), naming
// the file in syntax errors.
func load(path string, r *Registry, log *slog.Logger) (*Daemon, error) {
	data, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	d, err := New(data, r, log)
	var se *config.SyntaxError
	if errors.As(err, &se) {
		if path == "" {
			path = "default config"
		}
		return nil, fmt.Errorf("%s:%w", path, err)
	}
	return d, err
}

func runCmd(args []string, stderr io.Writer, r *Registry) int {
	fs, path := flags("run", "run [[--config] FILE]\n\nRuns until SIGINT or SIGTERM, then stops taking input, delivers what is in flight\nwithin shutdownTimeout, and exits 0; 3 if events were left undelivered (not\nacknowledged), 1 after a failure. A second signal exits at once.\nSIGHUP reloads the config file (so does a change to it, with --watch): a new\nconfig that is not valid, or that changes dataDir (that needs a restart), is\nlogged and refused, and the running one runs on; a valid one restarts only the\nsources, destinations and routes whose config changed, draining each one it\nreplaces as at a stop; the others run on untouched.\nWithout a config file it runs the embedded default: syslog on 127.0.0.1:5514\n(UDP and TCP) to NDJSON files under ./sluice-data/.", stderr)
	level := fs.String("log-level", "", "log `level` (debug, info, warn, error); overrides log.level")
	format := fs.String("log-format", "", "log `format` (text, json); overrides log.format")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to `file`, for go tool pprof")
	watch := fs.Bool("watch", false, "reload the config when its file changes (read every 250ms), as SIGHUP does")
	if err := parseArgs(fs, path, args); err != nil {
		return exitUsage(err)
	}
	if *watch && *path == "" {
		fmt.Fprintln(stderr, "sluiced run: --watch needs a config file: sluiced run --watch FILE")
		return 2
	}
	// SIGHUP (an operator asking for a reload, or a terminal closing)
	// would kill the process by default: it is caught before the config
	// loads, and reloads it once the daemon runs.
	hups := make(chan os.Signal, 1)
	signal.Notify(hups, syscall.SIGHUP)
	defer func() {
		signal.Stop(hups)
		close(hups)
	}()
	var log *slog.Logger
	if *level != "" || *format != "" {
		lc := LogConfig{Level: "info", Format: "text"}
		if data, err := readConfig(*path); err == nil {
			if p, err := Load(data, r); err == nil {
				lc = p.File.Log
			}
		}
		if *level != "" {
			lc.Level = *level
		}
		if *format != "" {
			lc.Format = *format
		}
		if err := lc.Validate(); err != nil {
			fmt.Fprintln(stderr, "sluiced: --log-level/--log-format:", err)
			return 2
		}
		log = newLogger(stderr, lc)
	}
	d, err := load(*path, r, log)
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	if *cpuprofile != "" {
		stop, err := startCPUProfile(*cpuprofile)
		if err != nil {
			fmt.Fprintln(stderr, "sluiced: --cpuprofile:", err)
			return 1
		}
		defer stop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		for range hups {
			d.log.Info("SIGHUP: reloading the config")
			_ = d.reloadFile(ctx, *path) // logged and counted
		}
	}()
	if *watch {
		go d.watch(ctx, *path, watchInterval)
	}
	go func() {
		if _, ok := <-sigs; !ok {
			return
		}
		cancel()
		if _, ok := <-sigs; ok {
			fmt.Fprintln(stderr, "sluiced: second signal: exiting at once")
			os.Exit(1)
		}
	}()
	switch err := d.Run(ctx); {
	case err == nil:
		return 0
	case onlyUndelivered(err):
		return ExitUndelivered
	default:
		return 1
	}
}

// ExitUndelivered is the exit code of "sluiced run" after a stop that
// left events undelivered and unacknowledged (a destination down at the
// stop, or stopped before it could start): no failure, but no clean
// drain either. A failure exits 1, a clean drain 0.
const ExitUndelivered = 3

func validateCmd(args []string, stdout, stderr io.Writer, r *Registry) int {
	fs, path := flags("validate", "validate [--config] FILE\n\nLoads and checks a config without running it: exit 0 if it is valid,\notherwise 1 with every problem listed.", stderr)
	if err := parseArgs(fs, path, args); err != nil {
		return exitUsage(err)
	}
	if *path == "" {
		fmt.Fprintln(stderr, "sluiced validate: a config file is required: sluiced validate FILE")
		return 2
	}
	d, err := load(*path, r, discard)
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	d.g.handlers.close(discard)
	fmt.Fprintf(stdout, "%s: ok (%d sources, %d destinations, %d routes)\n", *path, len(d.plan.Sources), len(d.plan.Destinations), len(d.plan.Routes))
	return 0
}

// printErrors prints each joined error on its own line.
func printErrors(w io.Writer, err error) {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) && !isWrapped(err) {
		for _, e := range joined.Unwrap() {
			printErrors(w, e)
		}
		return
	}
	fmt.Fprintln(w, "sluiced:", err)
}

func isWrapped(err error) bool {
	_, ok := err.(interface{ Unwrap() []error })
	return !ok
}

func exitUsage(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// startCPUProfile profiles the process into the file at path until stop.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
