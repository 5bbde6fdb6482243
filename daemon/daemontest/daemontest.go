// Package daemontest helps test a connector's registration with the
// daemon: it builds registries for config tests, where a config needs a
// source to route from, so each gets a "test" source beside the types
// under test. It sits above the daemon, which it imports; internal/ holds
// only helpers below it (see TestInternalIsLow in deps_test.go).
package daemontest

import (
	"context"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// Registry returns a registry with the types that each of register adds
// and a source of type "test", whose Recv waits for its ctx and never
// returns an event.
func Registry(register ...func(*daemon.Registry)) *daemon.Registry {
	r := daemon.NewRegistry()
	for _, f := range register {
		f(r)
	}
	daemon.RegisterSource(r, "test", "a source for tests", func() *struct{} { return &struct{}{} },
		func(daemon.Env, *struct{}) (sluice.Source[event.Event], error) {
			return sluice.SourceFunc[event.Event](func(ctx context.Context) (sluice.Message[event.Event], func(), error) {
				<-ctx.Done()
				return sluice.Message[event.Event]{}, nil, ctx.Err()
			}), nil
		})
	return r
}
