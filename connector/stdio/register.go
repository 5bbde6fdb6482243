package stdio

import (
	"os"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Register adds the "scanner" source (standard input) and the "printer"
// destination (standard output) to r, under the kawa daemon's names.
func Register(r *daemon.Registry) {
	daemon.RegisterSource(r, "scanner", "one event per line of standard input; ends at EOF",
		func() *ScannerConfig { return &ScannerConfig{MaxLineBytes: 1 << 20} },
		func(env daemon.Env, c *ScannerConfig) (sluice.Source[event.Event], error) {
			return NewScanner(*c, env.Name, os.Stdin)
		})
	daemon.RegisterDestination(r, "printer", "one line per event on standard output",
		func() *PrinterConfig { return &PrinterConfig{Format: "json", JSONRaw: "always"} },
		func(env daemon.Env, c *PrinterConfig) (sluice.Destination[event.Event], error) {
			return NewPrinter(*c, os.Stdout)
		})
}
