// Command sluiced is the sluice daemon: it takes events from the sources in
// its config file and delivers them, reliably, to its destinations.
//
//	sluiced run [--config FILE]
//	sluiced validate --config FILE
//	sluiced version
package main

import (
	"os"
	"runtime/debug"

	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/builtin"
	// Early in start-up, program pages stop being mapped 64 KiB at a
	// time (textpages.NoFaultAround).
	_ "github.com/sluicehq/sluice/internal/textpages/atinit"
)

// defaultGOGC is the collector's target when the GOGC environment variable
// is unset: 150, not Go's 100. sluiced's live heap is small (about 4 MB)
// while every line read is a new allocation, so at 100 the collector runs
// every few MiB of input; at 200, measured on the benchmark's syslog →
// file cases, it cost 10% (parsed to JSON) to 39% (passthrough) less CPU
// per line than 100 for about 6 MiB more peak RSS. 150 is between: on a
// quiet machine (p1, defaults, 2M lines, 15 interleaved replicas) its
// peak RSS was 18.9 vs 21.8 MiB at 200 (rsyslog 42.9) for 0.88x the
// lines/s in that run and 0.94-1.06x in two shorter ones; passthrough
// (p2) showed no cost (README, "Memory").
const defaultGOGC = 150

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGOGC)
	}
	os.Exit(daemon.Main(os.Args[1:], os.Stdout, os.Stderr, builtin.Registry()))
}
