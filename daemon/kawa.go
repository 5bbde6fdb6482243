package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/daemon/config"
)

// This file reads the kawa daemon's config shape (kawa's cmd/kawa and
// cmd/kawad, and reveald), so that its configs load unchanged; docs/kawa.md
// lists every kawa field and what it becomes.
//
// kawa's sources and destinations are arrays of objects with a "type";
// sluice's are objects of name to such objects. fromKawa rewrites an array
// into an object whose names are the type and its count among the
// elements of that type so far: the first syslog source is "syslog-0",
// the second "syslog-1", the first journald "journald-0". Errors then name
// those paths ("sources.syslog-1.addr"). Inside the array elements it
// maps kawa's fields to sluice's (kawaFields). kawa's top-level "pprof"
// and "monitoring" become "admin".

// kawaRename maps a kawa field of a type to the sluice field it becomes;
// "" means kawa read the field but never used it, and it is dropped.
// Fields of the same name in both are not listed.
var kawaRename = map[Kind]map[string]map[string]string{
	KindSource: {
		// kawa's mqtt source took "retained" but only publishing uses it.
		"mqtt": {"retained": ""},
	},
	KindDestination: {
		// reveald renamed kawa's accessSecretKey.
		"s3":   {"secretAccessKey": "accessSecretKey"},
		"mqtt": {"batchSize": "batch.count"},
	},
}

// kawaDurations are the kawa fields that were Go time.Durations, which
// kawa read from JSON as integers of nanoseconds; sluice reads "15s".
var kawaDurations = map[string]bool{"flushFreq": true}

// fromKawa returns the standard JSON std with kawa's shape rewritten into
// sluice's, and the problems it found, each a *config.FieldError; the
// parts in error are left out, so that decoding goes on to find the rest.
// A config in sluice's own shape is returned as it is.
func fromKawa(std []byte) ([]byte, []error) {
	top, ok := members(std)
	if !ok {
		return std, nil
	}
	var errs []error
	changed := false
	var admin *kawaAdmin
	out := top[:0:0]
	for _, m := range top {
		switch {
		case (m.key == "sources" || m.key == "destinations") && kindIs(m.val, '['):
			k := KindSource
			if m.key == "destinations" {
				k = KindDestination
			}
			v, err := kawaComponents(k, m.key, m.val)
			errs = append(errs, err...)
			m.val, changed = v, true
		case m.key == "pprof" || m.key == "monitoring":
			if admin == nil {
				admin = &kawaAdmin{}
			}
			if err := admin.take(m.key, m.val); err != nil {
				errs = append(errs, err)
			}
			changed = true
			continue
		}
		out = append(out, m)
	}
	if admin != nil && admin.addr != "" {
		if slices.ContainsFunc(out, func(m member) bool { return m.key == "admin" }) {
			errs = append(errs, &config.FieldError{Path: admin.from, Msg: "set admin or kawa's " + admin.from + ", not both"})
		} else {
			a, _ := json.Marshal(map[string]any{"addr": admin.addr, "pprof": admin.pprof})
			out = append(out, member{"admin", a})
		}
	}
	if !changed {
		return std, errs
	}
	return object(out), errs
}

// kawaComponents turns kawa's array of components into an object of
// generated names.
func kawaComponents(k Kind, path string, arr []byte) ([]byte, []error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(arr, &elems); err != nil {
		return nil, []error{&config.FieldError{Path: path, Msg: err.Error()}}
	}
	var errs []error
	count := map[string]int{}
	var out []member
	for i, e := range elems {
		epath := fmt.Sprintf("%s[%d]", path, i)
		typ, err := config.Peek(e, "type")
		if err != nil {
			errs = append(errs, &config.FieldError{Path: epath, Msg: err.(*config.FieldError).Msg})
			continue
		}
		if typ == "" {
			errs = append(errs, &config.FieldError{Path: epath + ".type", Msg: "required"})
			continue
		}
		name := fmt.Sprintf("%s-%d", typ, count[typ])
		count[typ]++
		v, err := kawaFields(k, typ, path+"."+name, e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, member{name, v})
	}
	return object(out), errs
}

// kawaFields maps the fields of one kawa component to sluice's.
func kawaFields(k Kind, typ, path string, obj []byte) ([]byte, error) {
	ms, _ := members(obj) // Peek checked that obj is an object
	rename := kawaRename[k][typ]
	var out []member
	var nested map[string][]member // "batch" → its members, for "batch.count"
	for _, m := range ms {
		if kawaDurations[m.key] && kindIs(m.val, '0') {
			ns, err := strconv.ParseInt(string(m.val), 10, 64)
			if err != nil {
				return nil, &config.FieldError{Path: path + "." + m.key, Msg: "want a duration: a string like \"15s\" or kawa's integer of nanoseconds, got " + string(m.val)}
			}
			m.val, _ = json.Marshal(time.Duration(ns).String())
		}
		to, ok := rename[m.key]
		switch {
		case !ok:
			out = append(out, m)
		case to == "":
		case strings.IndexByte(to, '.') > 0:
			i := strings.IndexByte(to, '.')
			if nested == nil {
				nested = map[string][]member{}
			}
			nested[to[:i]] = append(nested[to[:i]], member{to[i+1:], m.val})
		default:
			out = append(out, member{to, m.val})
		}
	}
	for key, sub := range nested {
		for _, m := range out {
			if m.key == key {
				return nil, &config.FieldError{Path: path + "." + key, Msg: "set " + key + " or kawa's " + sub[0].key + " names, not both"}
			}
		}
		out = append(out, member{key, object(sub)})
	}
	return object(out), nil
}

// kawaAdmin gathers kawa's "pprof" (cmd/kawa: the address of a pprof
// server) and "monitoring" (cmd/kawad: an address with the paths of pprof
// and metrics) into sluice's admin listener.
type kawaAdmin struct {
	from  string // the kawa key that set addr
	addr  string
	pprof bool
}

func (a *kawaAdmin) take(key string, val []byte) error {
	if kindIs(val, 'n') {
		return nil
	}
	if a.addr != "" {
		return &config.FieldError{Path: key, Msg: "set pprof or monitoring, not both"}
	}
	if key == "pprof" {
		if err := json.Unmarshal(val, &a.addr); err != nil {
			return &config.FieldError{Path: key, Msg: "want an address string like \"127.0.0.1:6060\", got " + string(val)}
		}
		a.from, a.pprof = key, a.addr != ""
		return nil
	}
	var m struct {
		Addr  string `json:"addr"`
		PProf struct {
			Path string `json:"path"`
		} `json:"pprof"`
		Metrics struct {
			Path string `json:"path"`
		} `json:"metrics"`
	}
	dec := json.NewDecoder(bytes.NewReader(val))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return &config.FieldError{Path: key, Msg: "want kawa's {\"addr\", \"pprof\": {\"path\"}, \"metrics\": {\"path\"}}, got " + err.Error()}
	}
	if p := m.PProf.Path; p != "" && p != "/debug/pprof/" {
		return &config.FieldError{Path: key + ".pprof.path", Msg: fmt.Sprintf("sluiced serves pprof at /debug/pprof/ only, got %q", p)}
	}
	if p := m.Metrics.Path; p != "" && p != "/metrics" {
		return &config.FieldError{Path: key + ".metrics.path", Msg: fmt.Sprintf("sluiced serves metrics at /metrics only, got %q", p)}
	}
	a.from, a.addr, a.pprof = key, m.Addr, m.PProf.Path != ""
	return nil
}

// members returns the members of the JSON object data in order, and false
// if data is not an object.
func members(data []byte) ([]member, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	var ms []member
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		ms = append(ms, member{t.(string), v})
	}
	return ms, true
}

type member struct {
	key string
	val json.RawMessage
}

// object writes members as a JSON object, in order.
func object(ms []member) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.val)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// kindIs reports whether the JSON value v starts with c ('0' for any
// number, 'n' for null).
func kindIs(v []byte, c byte) bool {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return false
	}
	if c == '0' {
		return v[0] == '-' || v[0] >= '0' && v[0] <= '9'
	}
	return v[0] == c
}
