// Package listening tells when a listening source has bound its
// addresses, for the daemon's /readyz (NotReady) and its "running" line
// (daemon.Binder's Bound).
package listening

// Gate is opened once, when every address of a source is bound. Make one
// with New; its methods are safe for concurrent use.
type Gate struct{ ch chan struct{} }

// New returns a gate not yet opened.
func New() Gate { return Gate{make(chan struct{})} }

// Open records that every address is bound. Call it once, and never if
// binding failed.
func (g Gate) Open() { close(g.ch) }

// NotReady reports "not listening yet" until Open, "" after.
func (g Gate) NotReady() string {
	select {
	case <-g.ch:
		return ""
	default:
		return "not listening yet"
	}
}

// Bound returns a channel that Open closes.
func (g Gate) Bound() <-chan struct{} { return g.ch }
