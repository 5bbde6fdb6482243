// Package remap provides the "remap" handler: an expr-lang expression
// (https://expr-lang.org) over the event, as in the drop handler, that
// returns a map of field names to new values. A value sets the field (a
// new field goes after the others), nil deletes it, so a rename is
//
//	{"user": fields.usr, "usr": nil}
//
// and computed values are any expression:
//
//	let ms = float(fields.duration_us) / 1000; {"duration_ms": ms, "slow": ms > 500, "level": upper(fields.level)}
//
// Values become strings: numbers and booleans as Go formats them, times as
// RFC 3339 with nanoseconds, durations as "1.5s", lists and maps as JSON.
// Fields are set in the order of their names, so the result never depends
// on a map's order.
package remap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/internal/onerror"
	"github.com/sluicehq/sluice/internal/eventexpr"
)

// Config configures a remap handler.
type Config struct {
	// Expr is an expr-lang expression over the event that returns a map of
	// field names to values: a value sets the field, nil deletes it.
	// Compiled and type-checked at start. Required.
	Expr string `json:"expr" sluice:"required"`
	// OnError is what happens to an event the expression fails on at run
	// time (such as int("x")): keep (pass it on unchanged), drop, or
	// deadLetter (hand it to the route's deadLetter destination). It is
	// counted as an error of cause "remap" either way. Default keep.
	OnError string `json:"onError"`
}

// Defaults returns a Config with the defaults filled in.
func Defaults() *Config { return &Config{OnError: "keep"} }

// Handler remaps events' fields. It is safe for concurrent use.
type Handler struct {
	prog   *eventexpr.Program
	policy onerror.Policy
	hooks  onerror.Hooks
}

// New compiles c.Expr, checking that it returns a map, and returns a
// handler that reports run-time failures to hooks.
func New(c *Config, hooks onerror.Hooks) (*Handler, error) {
	policy, err := onerror.Parse(c.OnError)
	if err != nil {
		return nil, fmt.Errorf("onError: %w", err)
	}
	prog, err := eventexpr.Compile(c.Expr, expr.AsKind(reflect.Map))
	if err != nil {
		return nil, fmt.Errorf("expr: %w", err)
	}
	return &Handler{prog: prog, policy: policy, hooks: hooks}, nil
}

// Handle returns msg with its fields remapped into a new slice. An event
// the expression fails on is handled by the onError policy and reported to
// the hooks. It never returns an error and never acks.
func (h *Handler) Handle(_ context.Context, msg sluice.Message[event.Event]) ([]sluice.Message[event.Event], error) {
	out := []sluice.Message[event.Event]{msg}
	if err := h.Remap(&out[0].Value); err != nil {
		return h.policy.Apply(&h.hooks, msg, err), nil
	}
	return out, nil
}

// Remap applies the expression to e, or returns why it cannot and leaves e
// unchanged. It never modifies memory e shares with other copies.
func (h *Handler) Remap(e *event.Event) error {
	res, err := h.prog.Run(e)
	if err != nil {
		return fmt.Errorf("remap: %w", err)
	}
	rv := reflect.ValueOf(res)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return fmt.Errorf("remap: the expression returned %T, want a map with string keys", res)
	}
	type change struct {
		name string
		val  string
		del  bool
	}
	changes := make([]change, 0, rv.Len())
	for it := rv.MapRange(); it.Next(); {
		name := it.Key().String()
		if name == "" {
			return errors.New("remap: a field with an empty name")
		}
		c := change{name: name}
		if v := it.Value().Interface(); v == nil {
			c.del = true
		} else if c.val, err = format(v); err != nil {
			return fmt.Errorf("remap: field %q: %w", name, err)
		}
		changes = append(changes, c)
	}
	slices.SortFunc(changes, func(a, b change) int { return strings.Compare(a.name, b.name) })
	fields := make([]event.Field, 0, len(e.Fields)+len(changes))
	for _, f := range e.Fields {
		if i, ok := slices.BinarySearchFunc(changes, f.Name, func(c change, n string) int { return strings.Compare(c.name, n) }); ok {
			if changes[i].del {
				continue
			}
			f.Value = changes[i].val
			changes[i].del = true // done: do not append it again
		}
		fields = append(fields, f)
	}
	for _, c := range changes {
		if !c.del {
			fields = append(fields, event.Field{Name: c.name, Value: c.val})
		}
	}
	if len(fields) == 0 {
		fields = nil
	}
	e.Fields = fields
	return nil
}

// format renders a value of the expression as a field's string.
func format(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case time.Time:
		return v.Format(time.RFC3339Nano), nil
	case time.Duration:
		return v.String(), nil
	case fmt.Stringer:
		return v.String(), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

var _ sluice.Handler[event.Event, event.Event] = (*Handler)(nil)
