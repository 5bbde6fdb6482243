package onerror

import (
	"errors"

	"github.com/sluicehq/sluice/daemon"
)

// DaemonHooks returns the hooks of a handler in the daemon: failures are
// counted (as parse failures of the handler if cause is "parse", as
// errors of that cause otherwise) and logged at debug level,
// drops are counted with cause, and rejects go to the route's dead letter.
// It fails if policy is deadLetter and the route has no "deadLetter".
func DaemonHooks(env daemon.Env, policy, cause string) (Hooks, error) {
	if policy == "deadLetter" && env.DeadLetter == nil {
		return Hooks{}, errors.New(`onError: "deadLetter" needs a "deadLetter" destination on the route`)
	}
	return Hooks{
		Failed: func(reason error) {
			if cause == "parse" {
				env.Metrics.ParseFailed(1)
			} else {
				env.Metrics.Error(cause)
			}
			env.Logger.Debug("event not handled", "cause", cause, "err", reason)
		},
		Dropped: func() { env.Metrics.Dropped(cause, 1) },
		Reject:  daemon.Reject,
	}, nil
}
