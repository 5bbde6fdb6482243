package daemon

import (
	"fmt"

	"github.com/sluicehq/sluice"
)

// Attributes by which a handler sends an event elsewhere than on down its
// route. The router takes such an event out of the route after the
// handler, removes the attribute, and sends it with the rest of the batch:
// the source's ack waits for it like for any other.
const (
	// AttrRoute names a route: the event goes to that route's
	// destinations (or its disk buffer) without running its handlers.
	AttrRoute = "sluice.route"
	// AttrDestination names a destination, such as a handler's dead
	// letter (Env.DeadLetterName).
	AttrDestination = "sluice.destination"
)

// A Diverter is a handler that may set [AttrRoute] or [AttrDestination]
// on the events it returns. The router looks for them only after a
// handler whose Diverts returns true, and a handler config may name a
// "deadLetter" only for such a handler.
type Diverter interface {
	Diverts() bool
}

// targets are where diverted events go: routes' and destinations' senders
// by name. They are filled while the graph is built and only read after.
type targets struct {
	routes map[string]dest
	dests  map[string]dest
}

// diversion is the events diverted to one target.
type diversion struct {
	key  string // the attribute and the name
	to   dest
	msgs []msg
}

// split moves the diverted events of msgs to divs and returns the rest,
// in order: msgs itself if none was diverted, else a new slice.
func (t *targets) split(msgs []msg, divs []diversion) ([]msg, []diversion, error) {
	var kept []msg
	diverted := false
	for i, m := range msgs {
		var to dest
		var key string
		if name, ok := m.Attributes.Get(AttrRoute); ok {
			if to, ok = t.routes[name]; !ok {
				return nil, nil, fmt.Errorf("an event for unknown route %q", name)
			}
			key = AttrRoute + "=" + name
		} else if name, ok := m.Attributes.Get(AttrDestination); ok {
			if to, ok = t.dests[name]; !ok {
				return nil, nil, fmt.Errorf("an event for unknown destination %q", name)
			}
			key = AttrDestination + "=" + name
		}
		if to == nil {
			if diverted {
				kept = append(kept, m)
			}
			continue
		}
		if !diverted {
			kept, diverted = append(make([]msg, 0, len(msgs)), msgs[:i]...), true
		}
		m.Attributes = without(m.Attributes, AttrRoute, AttrDestination)
		j := 0
		for j < len(divs) && divs[j].key != key {
			j++
		}
		if j == len(divs) {
			divs = append(divs, diversion{key: key, to: to})
		}
		divs[j].msgs = append(divs[j].msgs, m)
	}
	if !diverted {
		return msgs, divs, nil
	}
	return kept, divs, nil
}

// without returns a without the given keys.
func without(a sluice.Attributes, keys ...string) sluice.Attributes {
	var kept []sluice.Attr
	for k, v := range a.All() {
		if k != keys[0] && (len(keys) < 2 || k != keys[1]) {
			kept = append(kept, sluice.Attr{Key: k, Value: v})
		}
	}
	return sluice.AttributesOf(kept...)
}
