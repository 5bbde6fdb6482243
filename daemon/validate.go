package daemon

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
)

// buildEach builds each component of p on its own, without the graph
// that joins them, and returns what the builders find wrong (such as a
// handler's pattern or module), each at its path. New calls it on a plan
// that did not load in full, so that one error elsewhere hides none of
// these.
func (p *Plan) buildEach() []error {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ms := newMetricSet()
	var errs []error
	build := func(path string, c Component, e Env) {
		e.Name, e.Logger, e.DataDir = c.Name, log, p.File.DataDir
		e.Metrics = ms.component(c.Kind, c.Name)
		if _, err := c.entry.build(e, c.Config); err != nil {
			errs = append(errs, config.Nest(path, err)...)
		}
	}
	for _, c := range p.Sources {
		build("sources."+c.Name, c, Env{})
	}
	for _, c := range p.Destinations {
		var e Env
		if c.DeadLetter != "" {
			e.DeadLetter = discardDest{}
		}
		build("destinations."+c.Name, c, e)
	}
	var routes []string
	for _, r := range p.Routes {
		routes = append(routes, r.Name)
	}
	for _, r := range p.Routes {
		for _, c := range r.Handlers {
			e := Env{DeadLetterName: c.DeadLetter, Routes: routes}
			if r.DeadLetter != "" {
				e.DeadLetter = discardDest{}
			}
			build(c.Name, c, e)
		}
	}
	return errs
}

// discardDest stands for a dead letter in buildEach; nothing is sent to it.
type discardDest struct{}

func (discardDest) Send(_ context.Context, ack func(), _ ...sluice.Message[event.Event]) error {
	sluice.Ack(ack)
	return nil
}

// sortErrors joins errs, flattened, in the order of their paths: errors
// without a path (a syntax error) first, then the config's own fields,
// sources, destinations and routes, numbers in paths compared as numbers
// (routes[2] before routes[10]). Errors at the same path keep their order.
func sortErrors(errs []error) error {
	var flat []error
	for _, err := range errs {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			flat = append(flat, j.Unwrap()...)
		} else if err != nil {
			flat = append(flat, err)
		}
	}
	slices.SortStableFunc(flat, func(a, b error) int { return comparePaths(pathOf(a), pathOf(b)) })
	return errors.Join(flat...)
}

func pathOf(err error) string {
	var fe *config.FieldError
	if errors.As(err, &fe) {
		return fe.Path
	}
	return ""
}

// comparePaths orders config paths section by section, runs of digits by
// value.
func comparePaths(a, b string) int {
	section := func(p string) int {
		for i, s := range []string{"sources", "destinations", "routes"} {
			if p == s || strings.HasPrefix(p, s+".") || strings.HasPrefix(p, s+"[") {
				return i + 2
			}
		}
		return min(len(p), 1) // "" first, then the file's own fields
	}
	if c := cmp.Compare(section(a), section(b)); c != 0 {
		return c
	}
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			x, _ := strconv.Atoi(a[:da])
			y, _ := strconv.Atoi(b[:db])
			if c := cmp.Compare(x, y); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digits(s string) int {
	n := 0
	for n < len(s) && '0' <= s[n] && s[n] <= '9' {
		n++
	}
	return n
}
