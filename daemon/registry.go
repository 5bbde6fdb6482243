package daemon

import (
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// Env is what a connector's builder gets besides its config.
type Env struct {
	// Name is the component's name in the config, such as "web".
	Name string
	// Logger is the daemon's logger with the component's name attached.
	Logger *slog.Logger
	// DataDir is the daemon's data directory, for state and default paths.
	DataDir string
	// Metrics records the component's counters; never nil.
	Metrics *Metrics
	// DeadLetter, for a destination, is the destination named by its
	// "deadLetter" field, or nil. A destination hands it a batch that
	// failed permanently (batch.WithDeadLetter does) instead of stopping
	// the daemon; without one, a permanent failure is fatal.
	// For a handler, it is the route's "deadLetter" destination, or nil:
	// a handler never sends to it (it has no ack to give), it returns
	// the events it rejects marked with [Reject], and the route sends them.
	DeadLetter sluice.Destination[event.Event]
	// DeadLetterName, for a handler, names the destination of its
	// "deadLetter" field, or is "". A handler sends it events by setting
	// [AttrDestination] (see divert.go).
	DeadLetterName string
	// Routes names every route of the config, in order, for a handler
	// that sends events to another route with [AttrRoute].
	Routes []string
}

// NotReadier is implemented by a source or destination that can say why
// it cannot take or deliver events now, such as a broker client that is
// not connected or a source whose checkpoints cannot be written. /readyz
// answers 503 with the first such reason, after the component's kind and
// name (so the reason need not repeat them); an empty string means ready. NotReady must be safe for concurrent use and
// cheap: it is called on every /readyz request.
type NotReadier interface {
	NotReady() string
}

// Binder is implemented by a source that listens for senders on
// addresses it binds in Run (it is a [sluice.Runner]), such as the http,
// otlp and syslog sources.
// Bound returns a channel that Run closes once it has bound every
// address, when a sender that connects is accepted rather than refused;
// the channel is never closed if binding fails: Run returns the error
// then, a [*config.FieldError] at the field of the address (such as
// "addr") for the daemon to report at the source's path
// ("sources.web.addr: listen tcp 127.0.0.1:8088: bind: address already
// in use"). Bound must be safe for concurrent use and return the same
// channel every time.
//
// The daemon logs "running", and /readyz answers 200, only once every
// Binder among its sources is bound (and every disk buffer has
// recovered): a sender that waits for either is never refused. A source
// that has neither bound nor failed within [BindTimeout] of its start
// fails the start. Such a source should also be a [NotReadier] that is
// not ready until bound, for the sources a reload adds.
type Binder interface {
	Bound() <-chan struct{}
}

// BindTimeout is how long the daemon waits for a [Binder] to bind its
// addresses after the source starts before it fails the start. Binding
// takes a few system calls: a source still not bound then is stuck.
const BindTimeout = 30 * time.Second

// bindTimeout is BindTimeout, shorter in tests.
var bindTimeout = BindTimeout

// A Kind is what a registered type builds.
type Kind int

const (
	KindSource Kind = iota
	KindDestination
	KindHandler
)

func (k Kind) String() string {
	return [...]string{"source", "destination", "handler"}[k]
}

// Registry maps the "type" of a config entry to its config and builder.
// Build a Registry with [NewRegistry] and the Register functions of the
// connector packages; it is not safe to register concurrently with use.
type Registry struct {
	types   [3]map[string]*entry
	omitted [3]map[string]string // type → the build tag that left it out
}

type entry struct {
	typ string
	doc string
	// config returns a pointer to a new config filled with defaults.
	config func() any
	// build builds the component from the decoded config.
	build func(Env, any) (any, error)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{types: [3]map[string]*entry{{}, {}, {}}, omitted: [3]map[string]string{{}, {}, {}}}
}

// RegisterSource registers a source type. defaults returns a new config
// with its defaults; build makes the source from the decoded config.
func RegisterSource[C any](r *Registry, typ, doc string, defaults func() *C, build func(Env, *C) (sluice.Source[event.Event], error)) {
	register(r, KindSource, typ, doc, defaults, func(e Env, c *C) (any, error) { return build(e, c) })
}

// RegisterDestination registers a destination type.
func RegisterDestination[C any](r *Registry, typ, doc string, defaults func() *C, build func(Env, *C) (sluice.Destination[event.Event], error)) {
	register(r, KindDestination, typ, doc, defaults, func(e Env, c *C) (any, error) { return build(e, c) })
}

// RegisterHandler registers a handler type for routes.
//
// A handler that holds resources beyond memory (a WebAssembly runtime
// and its instances, goroutines, files) implements io.Closer. The daemon
// calls Close exactly once, when no call of the handler is in progress
// and none will ever come: when the daemon stops (after its sources
// have), when a reload replaces the handler's route (once the routers'
// Sends are paused and the new routes are in place) or keeps the running
// routes and so has no use for the copy it built, and when the config
// that built it is refused (a later component fails to build, or the
// data directory is not writable). A handler is never called after its
// Close. An error from Close is logged and changes nothing else.
func RegisterHandler[C any](r *Registry, typ, doc string, defaults func() *C, build func(Env, *C) (sluice.Handler[event.Event, event.Event], error)) {
	register(r, KindHandler, typ, doc, defaults, func(e Env, c *C) (any, error) { return build(e, c) })
}

func register[C any](r *Registry, k Kind, typ, doc string, defaults func() *C, build func(Env, *C) (any, error)) {
	r.types[k][typ] = &entry{
		typ:    typ,
		doc:    doc,
		config: func() any { return defaults() },
		build:  func(e Env, c any) (any, error) { return build(e, c.(*C)) },
	}
}

// Omit records that a type of kind k was left out of this build by a
// build tag, so that a config using it fails naming the tag instead of as
// an unknown type.
func (r *Registry) Omit(k Kind, typ, tag string) {
	r.omitted[k][typ] = tag
}

func (r *Registry) lookup(k Kind, typ string) (*entry, error) {
	if e, ok := r.types[k][typ]; ok {
		return e, nil
	}
	if tag, ok := r.omitted[k][typ]; ok {
		return nil, fmt.Errorf("%s type %q is not in this build of sluiced (built with -tags %s)", k, typ, tag)
	}
	names := r.Types(k)
	return nil, fmt.Errorf("unknown %s type %q (want one of %v)", k, typ, names)
}

// Types returns the registered type names of kind k, sorted.
func (r *Registry) Types(k Kind) []string {
	names := make([]string, 0, len(r.types[k]))
	for n := range r.types[k] {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Defaults returns a new config with defaults for type typ of kind k, and
// the type's one-line description.
func (r *Registry) Defaults(k Kind, typ string) (any, string, bool) {
	e, ok := r.types[k][typ]
	if !ok {
		return nil, "", false
	}
	return e.config(), e.doc, true
}
