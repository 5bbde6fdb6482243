// Command sluiced is the sluice daemon: it takes events from the sources in
// its config file and delivers them, reliably, to its destinations.
//
//	sluiced run [--config FILE]
//	sluiced validate --config FILE
//	sluiced version
package main

import (
	"os"

	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/builtin"
)

func main() {
	os.Exit(daemon.Main(os.Args[1:], os.Stdout, os.Stderr, builtin.Registry()))
}
