package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/sluicehq/sluice/daemon/config"
)

// Limits of GET /tap, the endpoint of "sluiced tap".
const (
	tapDefaultRate = 10  // events/s shown to a client that asks for no rate
	tapMaxRate     = 100 // events/s at most per client; more is refused (400)
	tapMaxClients  = 4   // clients at once; more are refused (429)
	tapQueue       = 64  // events sampled and not yet written to the client
)

// taps holds the tap points by kind and name. It outlives reloads, so
// that a tap goes on across one when its point is kept.
type taps struct {
	mu      sync.Mutex
	points  map[string]*tapPoint
	clients atomic.Int32
}

// point returns the tap point of the source or route name.
func (t *taps) point(kind, name string) *tapPoint {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := kind + ":" + name
	if p, ok := t.points[key]; ok {
		return p
	}
	if t.points == nil {
		t.points = map[string]*tapPoint{}
	}
	p := &tapPoint{}
	t.points[key] = p
	return p
}

// tapPoint is where events of one source or route can be sampled. With
// no client, observing costs one atomic load.
type tapPoint struct {
	mu   sync.Mutex                // serializes changes to subs
	subs atomic.Pointer[[]*tapSub] // nil when no client taps
}

// tapSub is one client's sample: at most lim's rate, queued in ch. What
// the limit or a full queue leaves out is counted in skipped.
type tapSub struct {
	lim     *rate.Limiter
	ch      chan []byte
	skipped atomic.Int64
}

// observe offers msgs to each client of p, if any, without blocking. It
// is safe for concurrent use, and on a nil p.
func (p *tapPoint) observe(msgs []msg) {
	if p == nil {
		return
	}
	subs := p.subs.Load()
	if subs == nil {
		return
	}
	for _, s := range *subs {
		for i := range msgs {
			if !s.lim.Allow() {
				s.skipped.Add(int64(len(msgs) - i))
				break
			}
			select {
			case s.ch <- msgs[i].Value.AppendJSON(nil):
			default:
				s.skipped.Add(1)
			}
		}
	}
}

func (p *tapPoint) subscribe(perSecond int) *tapSub {
	s := &tapSub{lim: rate.NewLimiter(rate.Limit(perSecond), 1), ch: make(chan []byte, tapQueue)}
	p.mu.Lock()
	defer p.mu.Unlock()
	var next []*tapSub
	if cur := p.subs.Load(); cur != nil {
		next = slices.Clone(*cur)
	}
	next = append(next, s)
	p.subs.Store(&next)
	return s
}

func (p *tapPoint) unsubscribe(s *tapSub) {
	p.mu.Lock()
	defer p.mu.Unlock()
	next := slices.DeleteFunc(slices.Clone(*p.subs.Load()), func(x *tapSub) bool { return x == s })
	if len(next) == 0 {
		p.subs.Store(nil)
		return
	}
	p.subs.Store(&next)
}

// tapLine is one line of GET /tap's NDJSON answer: an event, or how many
// were left out since the last such line (once a second at most).
type tapLine struct {
	Point   string          `json:"point,omitempty"`
	Event   json.RawMessage `json:"event,omitempty"`
	Skipped int64           `json:"skipped,omitempty"`
}

// serveTap answers GET /tap?point=P&rate=N: the events passing the
// source or route P (see [Daemon.tapPoint]), at most N a second (default
// tapDefaultRate, at most tapMaxRate), as NDJSON until the client goes.
// Values of the config's secrets are masked in what it shows. It refuses
// with 403 unless admin.tap is true.
func (d *Daemon) serveTap(enabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !enabled {
			http.Error(w, `tap is off: set "admin": {"tap": true} in the config to allow it`, http.StatusForbidden)
			return
		}
		perSecond := tapDefaultRate
		if v := r.URL.Query().Get("rate"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > tapMaxRate {
				http.Error(w, fmt.Sprintf("rate: want 1 to %d events a second, got %q", tapMaxRate, v), http.StatusBadRequest)
				return
			}
			perSecond = n
		}
		key, err := d.tapPoint(r.URL.Query().Get("point"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		taps := d.ms.taps
		if taps.clients.Add(1) > tapMaxClients {
			taps.clients.Add(-1)
			http.Error(w, fmt.Sprintf("%d taps are running, the most at once", tapMaxClients), http.StatusTooManyRequests)
			return
		}
		defer taps.clients.Add(-1)
		kind, name, _ := strings.Cut(key, ":")
		p := taps.point(kind, name)
		sub := p.subscribe(perSecond)
		defer p.unsubscribe(sub)

		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		_ = rc.Flush()
		enc := json.NewEncoder(w)
		plan, _ := d.running()
		mask := newMasker(plan)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			var line tapLine
			select {
			case <-r.Context().Done():
				return
			case ev := <-sub.ch:
				line = tapLine{Point: key, Event: mask.mask(ev)}
			case <-tick.C:
				if cur, _ := d.running(); cur != plan {
					plan, mask = cur, newMasker(cur)
				}
				if line.Skipped = sub.skipped.Swap(0); line.Skipped == 0 {
					continue
				}
			}
			if enc.Encode(line) != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

// tapPoint resolves what a client asked to tap: "source:NAME",
// "route:NAME", or a NAME that only a source or only a route has.
func (d *Daemon) tapPoint(asked string) (string, error) {
	plan, _ := d.running()
	var found []string
	for _, c := range plan.Sources {
		if c.Name == asked || "source:"+c.Name == asked {
			found = append(found, "source:"+c.Name)
		}
	}
	for _, r := range plan.Routes {
		if r.Name == asked || "route:"+r.Name == asked {
			found = append(found, "route:"+r.Name)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		var names []string
		for _, c := range plan.Sources {
			names = append(names, "source:"+c.Name)
		}
		for _, r := range plan.Routes {
			names = append(names, "route:"+r.Name)
		}
		return "", fmt.Errorf("no source or route %q; there are: %s", asked, strings.Join(names, ", "))
	}
	return "", fmt.Errorf("both a source and a route are named %q: ask for %s", asked, strings.Join(found, " or "))
}

// masker replaces the values of a config's secrets, as they are and as
// JSON escapes them, with [config.Redacted].
type masker struct{ secrets [][]byte }

func newMasker(p *Plan) masker {
	var m masker
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i))
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.Map:
			for it := v.MapRange(); it.Next(); {
				walk(it.Value())
			}
		case reflect.String:
			if s := v.String(); v.Type() == reflect.TypeFor[config.Secret]() && s != "" {
				q, _ := json.Marshal(s)
				m.secrets = append(m.secrets, []byte(s), q[1:len(q)-1])
			}
		}
	}
	for _, cs := range [][]Component{p.Sources, p.Destinations} {
		for _, c := range cs {
			walk(reflect.ValueOf(c.Config))
		}
	}
	for _, r := range p.Routes {
		for _, c := range r.Handlers {
			walk(reflect.ValueOf(c.Config))
		}
	}
	return m
}

func (m masker) mask(b []byte) []byte {
	for _, s := range m.secrets {
		b = bytes.ReplaceAll(b, s, []byte(config.Redacted))
	}
	return b
}
