// Command redactd is sluiced with one more handler type, "redact": the
// redaction of examples/wasm/redact as a native Go handler, so that the
// harness's "pw" case can compare the wasm handler with the same code
// compiled into the daemon.
package main

import (
	"context"
	"os"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/builtin"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/examples/wasm/redact/redaction"
)

type msg = sluice.Message[event.Event]

func main() {
	r := builtin.Registry()
	daemon.RegisterHandler(r, "redact", "examples/wasm/redact as a native handler (bench only)",
		func() *struct{} { return &struct{}{} },
		func(daemon.Env, *struct{}) (sluice.Handler[event.Event, event.Event], error) {
			return sluice.HandlerFunc[event.Event, event.Event](func(_ context.Context, m msg) ([]msg, error) {
				if !redaction.Event(&m.Value) {
					return nil, nil
				}
				return []msg{m}, nil
			}), nil
		})
	os.Exit(daemon.Main(os.Args[1:], os.Stdout, os.Stderr, r))
}
