package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/internal/eventexpr"
)

// File is the daemon's config file. Sources and destinations are maps of
// name to an object with a "type"; every source goes to every destination
// unless Routes says otherwise.
type File struct {
	// DataDir holds state and the default output files. Default
	// "./sluice-data". A reload cannot change it (it holds the sources'
	// checkpoints and the disk buffers' spools): a reload that does is
	// refused, and the new value needs a restart.
	DataDir string `json:"dataDir"`
	// ShutdownTimeout bounds the drain on SIGINT or SIGTERM: sources stop,
	// in-flight events are delivered, destinations flush. A reload drains
	// what it replaces within it too; changing it replaces every disk
	// buffer, which stops within it. Default 30s.
	ShutdownTimeout time.Duration `json:"shutdownTimeout"`
	// Log configures the daemon's own logs.
	Log LogConfig `json:"log"`
	// Admin, if set, serves /metrics, /healthz, /readyz (and pprof).
	// /readyz answers 200 from when sluiced logs "running": every
	// source that listens (http, otlp, syslog) is bound, so a sender
	// that waits for either is never refused, and every disk buffer has
	// recovered its spool; until then, and while a component says it
	// cannot take or deliver events, 503 with the reason.
	Admin *AdminConfig `json:"admin"`
	// Sources by name.
	Sources map[string]json.RawMessage `json:"sources" sluice:"required"`
	// Destinations by name.
	Destinations map[string]json.RawMessage `json:"destinations" sluice:"required"`
	// Routes, if set, replaces "every source to every destination".
	Routes []RouteConfig `json:"routes"`
}

// LogConfig configures the daemon's logs, written to standard error.
type LogConfig struct {
	// Level is debug, info, warn or error. Default info.
	Level string `json:"level"`
	// Format is text or json. Default text.
	Format string `json:"format"`
}

// Validate checks the level and format.
func (c *LogConfig) Validate() error {
	var errs []error
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Level) {
		errs = append(errs, &config.FieldError{Path: "level", Msg: fmt.Sprintf("want debug, info, warn or error, got %q", c.Level)})
	}
	if c.Format != "text" && c.Format != "json" {
		errs = append(errs, &config.FieldError{Path: "format", Msg: fmt.Sprintf("want text or json, got %q", c.Format)})
	}
	return errors.Join(errs...)
}

// AdminConfig configures the HTTP admin listener.
type AdminConfig struct {
	// Addr to listen on. Default "127.0.0.1:9595". At most 64 connections
	// are open at once (one more closes the one idle longest, or is closed
	// if all are busy; logged at most once per 10s), and a keep-alive
	// connection idle for 2m is closed.
	Addr string `json:"addr"`
	// Pprof serves /debug/pprof/ when true. Default false.
	Pprof bool `json:"pprof"`
	// Tap serves GET /tap, which "sluiced tap" reads, when true: a sample
	// of the events passing a source or route, at most 100 a second to
	// each of at most 4 clients at once (more are refused), with the
	// values of the config's secrets masked. Events are shown as they
	// flow: turn it on only where whoever reaches addr may read them.
	// Default false: /tap answers 403.
	Tap bool `json:"tap"`
}

// RouteConfig sends the events of some sources through handlers to some
// destinations.
type RouteConfig struct {
	// From names sources.
	From []string `json:"from" sluice:"required"`
	// To names destinations.
	To []string `json:"to" sluice:"required"`
	// If, if set, is a condition (an expr-lang expression over the event,
	// as in the drop handler) evaluated once per event before the route's
	// handlers: the route takes only the events for which it holds. An
	// event it fails on at run time (such as int(raw) on "x") is counted
	// (sluice_errors_total, kind route, cause if) and logged, and goes to
	// the route's deadLetter if it has one; else it does not take the
	// route. Default: every event.
	If string `json:"if"`
	// Handlers are applied in order; each is an object with a "type".
	Handlers []json.RawMessage `json:"handlers"`
	// DeadLetter names the destination that takes the events a handler of
	// this route rejects (parse or remap with "onError": "deadLetter"),
	// and those too large for a disk buffer on the route (a handler grew
	// them), with the reason in their deadLetter.error field; their
	// source's ack waits for its write. Default: none.
	DeadLetter string `json:"deadLetter"`
	// Name names the route in logs and metrics, and its disk buffer's
	// directory. Default "route-<index>".
	Name string `json:"name"`
	// Buffer, if of type "disk", puts a spool after the route's handlers
	// and before its destinations, which each get every event from it.
	// Default: memory (none).
	Buffer *BufferConfig `json:"buffer"`
}

// Plan is a loaded, checked config: every component's config decoded
// with its defaults, nothing built yet.
type Plan struct {
	File         File
	Sources      []Component
	Destinations []Component
	Routes       []Route
}

// Component is one decoded source, destination or handler.
type Component struct {
	Kind   Kind
	Name   string // the config name; for handlers, the path
	Type   string
	Config any // a pointer to the type's config struct
	// DeadLetter names the destination that takes this destination's
	// permanently failed batches, or a handler's failed events
	// ("deadLetter" in the config).
	DeadLetter string
	// Buffer is a destination's "buffer"; nil if none is set.
	Buffer *BufferConfig
	entry  *entry
}

// Route is a checked RouteConfig.
type Route struct {
	Name       string
	From, To   []string
	If         string
	Handlers   []Component
	Buffer     *BufferConfig
	DeadLetter string
	cond       *eventexpr.Program // If, compiled
}

func defaultFile() File {
	return File{DataDir: "./sluice-data", ShutdownTimeout: 30 * time.Second, Log: LogConfig{Level: "info", Format: "text"}}
}

// Load parses and checks a HuJSON config against r. It reports every
// problem it finds, each with its path, sorted by path (see sortErrors),
// and builds nothing.
func Load(data []byte, r *Registry, opts ...config.DecodeOption) (*Plan, error) {
	p, err := loadPartial(data, r, opts...)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// loadPartial is Load, but returns with the errors the plan as far as it could
// decode it: the components that decoded without error, nil if the file
// did not parse.
func loadPartial(data []byte, r *Registry, opts ...config.DecodeOption) (*Plan, error) {
	std, err := config.Parse(data)
	if err != nil {
		return nil, err
	}
	p := &Plan{File: defaultFile()}
	std, errs := fromKawa(std)
	// Go on after errors in the file's own fields: every problem is listed.
	if err := config.Decode(std, "", &p.File, opts...); err != nil {
		errs = append(errs, err)
	}
	if p.File.Admin != nil && p.File.Admin.Addr == "" {
		p.File.Admin.Addr = "127.0.0.1:9595"
	}
	decode := func(k Kind, path string, raw json.RawMessage) (Component, bool) {
		typ, err := config.Peek(raw, "type")
		if err != nil {
			var fe *config.FieldError
			if errors.As(err, &fe) {
				err = &config.FieldError{Path: path + "." + fe.Path, Msg: fe.Msg}
			}
			errs = append(errs, err)
			return Component{}, false
		}
		if typ == "" {
			errs = append(errs, &config.FieldError{Path: path + ".type", Msg: fmt.Sprintf("required (one of %v)", r.Types(k))})
			return Component{}, false
		}
		e, err := r.lookup(k, typ)
		if err != nil {
			errs = append(errs, &config.FieldError{Path: path + ".type", Msg: err.Error()})
			return Component{}, false
		}
		cfg := e.config()
		skip := []string{"type"}
		var dlq string
		var buf *BufferConfig
		if k == KindDestination || k == KindHandler {
			skip = append(skip, "deadLetter")
			if dlq, err = config.Peek(raw, "deadLetter"); err != nil {
				msg := "want the name of a destination"
				if fe := (*config.FieldError)(nil); errors.As(err, &fe) {
					_, got, _ := strings.Cut(fe.Msg, ", got ")
					msg += ", got " + got
				}
				errs = append(errs, &config.FieldError{Path: path + ".deadLetter", Msg: msg})
			}
		}
		if k == KindDestination {
			skip = append(skip, "buffer")
			if b, err := config.Member(raw, "buffer"); err != nil {
				errs = append(errs, &config.FieldError{Path: path + ".buffer", Msg: err.(*config.FieldError).Msg})
			} else if b != nil {
				buf = new(BufferConfig)
				if err := config.Decode(b, path+".buffer", buf, opts...); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if err := config.Decode(raw, path, cfg, append(opts, config.Skip(skip...))...); err != nil {
			errs = append(errs, err)
			return Component{}, false
		}
		return Component{Kind: k, Type: typ, Config: cfg, DeadLetter: dlq, Buffer: buf, entry: e}, true
	}
	for _, name := range sortedKeys(p.File.Sources) {
		if c, ok := decode(KindSource, "sources."+name, p.File.Sources[name]); ok {
			c.Name = name
			p.Sources = append(p.Sources, c)
		}
	}
	for _, name := range sortedKeys(p.File.Destinations) {
		if c, ok := decode(KindDestination, "destinations."+name, p.File.Destinations[name]); ok {
			c.Name = name
			p.Destinations = append(p.Destinations, c)
		}
	}
	errs = append(errs, checkDeadLetters(p.Destinations)...)
	if len(p.File.Sources) == 0 && p.File.Sources != nil {
		errs = append(errs, &config.FieldError{Path: "sources", Msg: "at least one source is required"})
	}
	if len(p.File.Destinations) == 0 && p.File.Destinations != nil {
		errs = append(errs, &config.FieldError{Path: "destinations", Msg: "at least one destination is required"})
	}
	if p.File.Routes == nil && len(p.File.Sources) > 0 && len(p.File.Destinations) > 0 {
		p.Routes = []Route{{From: sortedKeys(p.File.Sources), To: sortedKeys(p.File.Destinations)}}
	}
	routed := map[string]bool{}
	for i, rc := range p.File.Routes {
		path := fmt.Sprintf("routes[%d]", i)
		rt := Route{Name: cmpOr(rc.Name, fmt.Sprintf("route-%d", i)), From: rc.From, To: rc.To, If: rc.If, Buffer: rc.Buffer, DeadLetter: rc.DeadLetter}
		if _, ok := p.File.Destinations[rc.DeadLetter]; rc.DeadLetter != "" && !ok {
			errs = append(errs, &config.FieldError{Path: path + ".deadLetter", Msg: fmt.Sprintf("unknown destination %q", rc.DeadLetter)})
		}
		if rc.If != "" {
			var err error
			if rt.cond, err = eventexpr.CompileCond(rc.If); err != nil {
				// expr says "expected bool, but got int": in the config's wording.
				msg := strings.Replace(err.Error(), "expected bool, but got ", "want a condition (a bool), got ", 1)
				errs = append(errs, &config.FieldError{Path: path + ".if", Msg: msg})
			}
		}
		for j, s := range rc.From {
			if _, ok := p.File.Sources[s]; !ok {
				errs = append(errs, &config.FieldError{Path: fmt.Sprintf("%s.from[%d]", path, j), Msg: fmt.Sprintf("unknown source %q", s)})
			}
			routed[s] = true
		}
		for j, d := range rc.To {
			if _, ok := p.File.Destinations[d]; !ok {
				errs = append(errs, &config.FieldError{Path: fmt.Sprintf("%s.to[%d]", path, j), Msg: fmt.Sprintf("unknown destination %q", d)})
			}
		}
		for j, raw := range rc.Handlers {
			hp := fmt.Sprintf("%s.handlers[%d]", path, j)
			if c, ok := decode(KindHandler, hp, raw); ok {
				c.Name = hp
				if _, ok := p.File.Destinations[c.DeadLetter]; c.DeadLetter != "" && !ok {
					errs = append(errs, &config.FieldError{Path: hp + ".deadLetter", Msg: fmt.Sprintf("unknown destination %q", c.DeadLetter)})
				}
				rt.Handlers = append(rt.Handlers, c)
			}
		}
		p.Routes = append(p.Routes, rt)
	}
	errs = append(errs, p.checkBuffers()...)
	errs = append(errs, p.checkEventSizes()...)
	if p.File.Routes != nil {
		for _, name := range sortedKeys(p.File.Sources) {
			if !routed[name] {
				errs = append(errs, &config.FieldError{Path: "sources." + name, Msg: "no route takes events from this source; they would be lost"})
			}
		}
	}
	return p, sortErrors(errs)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkDeadLetters checks that every deadLetter names a destination and
// that no chain of them loops.
func checkDeadLetters(ds []Component) []error {
	byName := map[string]Component{}
	for _, d := range ds {
		byName[d.Name] = d
	}
	var errs []error
	for _, d := range ds {
		if d.DeadLetter == "" {
			continue
		}
		path := "destinations." + d.Name + ".deadLetter"
		if _, ok := byName[d.DeadLetter]; !ok {
			errs = append(errs, &config.FieldError{Path: path, Msg: fmt.Sprintf("unknown destination %q", d.DeadLetter)})
			continue
		}
		seen := map[string]bool{d.Name: true}
		for next := d.DeadLetter; next != ""; next = byName[next].DeadLetter {
			if seen[next] {
				errs = append(errs, &config.FieldError{Path: path, Msg: fmt.Sprintf("dead letters loop back to %q", next)})
				break
			}
			seen[next] = true
		}
	}
	return errs
}

// bufferSpec is a disk buffer of the plan.
type bufferSpec struct {
	name string // the destination's or the route's
	path string // of its config, for errors
	dir  string
	c    *BufferConfig
}

// buffers returns the plan's disk buffers: destinations' first, then
// routes'.
func (p *Plan) buffers() []bufferSpec {
	var bs []bufferSpec
	add := func(name, path string, c *BufferConfig) {
		if c.disk() {
			dir := c.Dir
			if dir == "" {
				dir = filepath.Join(p.File.DataDir, "spool", name)
			}
			bs = append(bs, bufferSpec{name: name, path: path + ".buffer", dir: dir, c: c})
		}
	}
	for _, d := range p.Destinations {
		add(d.Name, "destinations."+d.Name, d.Buffer)
	}
	for i, r := range p.Routes {
		add(r.Name, fmt.Sprintf("routes[%d]", i), r.Buffer)
	}
	return bs
}

// checkBuffers checks that every disk buffer has a directory of its own.
func (p *Plan) checkBuffers() []error {
	var errs []error
	seen := map[string]string{}
	for _, b := range p.buffers() {
		if b.c.Dir == "" && (b.name == "." || b.name == ".." || strings.ContainsAny(b.name, `/\`)) {
			errs = append(errs, &config.FieldError{Path: b.path + ".dir", Msg: fmt.Sprintf("required: the name %q cannot name a directory", b.name)})
			continue
		}
		dir := filepath.Clean(b.dir)
		if other, ok := seen[dir]; ok {
			errs = append(errs, &config.FieldError{Path: b.path + ".dir", Msg: fmt.Sprintf("%s is also the directory of %s; each buffer needs its own", dir, other)})
		}
		seen[dir] = b.path
	}
	return errs
}
