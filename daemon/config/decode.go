package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// FieldError is one problem at one place in a config.
type FieldError struct {
	// Path names the place, such as "sources.web.port", "routes[1].from"
	// or `headers["X-Id"]`; it is "" for the top-level value when Decode
	// was given no path.
	Path string
	// Msg says what is wrong, such as "required" or "want an integer,
	// got a string".
	Msg string
	// Err, if set, is the error Msg reports, such as the one a source
	// got binding the address its field names; Unwrap returns it.
	Err error
}

// Error returns Path + ": " + Msg, or Msg alone if Path is "".
func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Unwrap returns e.Err.
func (e *FieldError) Unwrap() error { return e.Err }

// DecodeOption configures [Decode].
type DecodeOption func(*decodeOptions)

type decodeOptions struct {
	skip   []string
	lookup func(string) (string, bool)
}

// Skip makes Decode ignore keys of the top-level object, such as "type",
// which the caller has already read with [Peek]. A skipped key is not
// decoded even if it names a field. By default no key is skipped.
func Skip(keys ...string) DecodeOption {
	keys = slices.Clone(keys)
	return func(o *decodeOptions) { o.skip = append(o.skip, keys...) }
}

// WithLookup sets the function that looks up environment variables; it
// reports whether the variable is set. The default, also used when
// lookup is nil, is [os.LookupEnv].
func WithLookup(lookup func(name string) (string, bool)) DecodeOption {
	return func(o *decodeOptions) {
		if lookup != nil {
			o.lookup = lookup
		}
	}
}

// Decode strictly decodes the JSON value data (for a file, the output of
// [Parse]) into v, which must be a non-nil pointer: to a struct, map,
// slice or scalar. The package doc gives the rules. path is the place of
// data in the file, such as "sources.web"; it prefixes every error path.
//
// Decode reports every problem it finds, as [*FieldError] values joined
// with [errors.Join], in document order. Decode sets what it could decode
// even when it returns an error.
//
// After a struct has been decoded, if the struct or a pointer to it has
// a method Validate() error, Decode calls it, and places what it returns
// as [Nest] does, relative to the struct: a Validate on the value at
// "sources.web" returning &FieldError{Path: "network", Msg: m} gives
// "sources.web.network: m". If decoding the struct found errors, those
// of Validate at, inside or around a field that failed are dropped, and
// the others kept, so that one bad field hides no other.
//
// Decode returns an error that is not a *FieldError only when v is not a
// non-nil pointer.
func Decode(data []byte, path string, v any, opts ...DecodeOption) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("config: decode: want a non-nil pointer, got %T", v)
	}
	o := decodeOptions{lookup: os.LookupEnv}
	for _, opt := range opts {
		opt(&o)
	}
	raw := bytes.TrimSpace(data)
	if err := checkJSON(raw); err != nil {
		return &FieldError{Path: path, Msg: err.Error()}
	}
	d := &decoder{lookup: o.lookup}
	d.value(path, raw, rv.Elem(), false, o.skip)
	return errors.Join(d.errs...)
}

// decoder holds the state of one Decode call.
type decoder struct {
	lookup func(string) (string, bool)
	errs   []error
}

func (d *decoder) fail(path, msg string) {
	d.errs = append(d.errs, &FieldError{Path: path, Msg: msg})
}

func (d *decoder) mismatch(path string, t reflect.Type, k kind) {
	d.fail(path, "want "+want(t)+", got "+k.String())
}

// value decodes raw, a valid JSON value, into v, which is settable. secret
// hides values in messages; skip lists keys to ignore if raw is an object.
func (d *decoder) value(path string, raw []byte, v reflect.Value, secret bool, skip []string) {
	t := v.Type()
	k := kindOf(raw)
	switch {
	case t == rawMessageType:
		v.SetBytes(bytes.Clone(raw))
		return
	case t.Kind() == reflect.Pointer:
		if k == kindNull {
			v.SetZero()
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.value(path, raw, v.Elem(), secret, skip)
		return
	case t.Kind() == reflect.Interface && t.NumMethod() == 0:
		var x any
		if err := json.Unmarshal(raw, &x); err != nil {
			d.fail(path, "invalid JSON: "+err.Error())
		} else if x == nil {
			v.SetZero()
		} else {
			v.Set(reflect.ValueOf(x))
		}
		return
	case d.unmarshal(path, raw, k, v, secret):
		return
	case t == durationType:
		d.duration(path, raw, k, v, secret)
		return
	}

	switch t.Kind() {
	case reflect.String:
		if k != kindString {
			d.mismatch(path, t, k)
			return
		}
		if s, _, ok := d.text(path, raw, secret || t == secretType); ok {
			v.SetString(s)
		}
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		d.scalar(path, raw, k, v, secret)
	case reflect.Struct:
		if k != kindObject {
			d.mismatch(path, t, k)
			return
		}
		d.structValue(path, raw, v, secret, skip)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			d.fail(path, "cannot decode into Go type "+t.String())
			return
		}
		if k != kindObject {
			d.mismatch(path, t, k)
			return
		}
		d.mapValue(path, raw, v, secret, skip)
	case reflect.Slice:
		if k != kindArray {
			d.mismatch(path, t, k)
			return
		}
		d.sliceValue(path, raw, v, secret)
	default:
		d.fail(path, "cannot decode into Go type "+t.String())
	}
}

// structValue decodes the JSON object raw into the struct v.
func (d *decoder) structValue(path string, raw []byte, v reflect.Value, secret bool, skip []string) {
	members := objectMembers(raw)
	info := structFields(v.Type())
	start := len(d.errs)
	seen := make([]bool, len(info.fields)) // the key appeared
	set := make([]bool, len(info.fields))  // ... and was not null
	for _, m := range members {
		if slices.Contains(skip, m.key) {
			continue
		}
		p := joinKey(path, m.key)
		i, ok := info.byName[m.key]
		switch {
		case !ok:
			d.fail(p, unknownField(m.key, info.names))
			continue
		case seen[i]:
			d.fail(p, "duplicate field")
			continue
		}
		seen[i] = true
		if kindOf(m.val) == kindNull {
			continue
		}
		set[i] = true
		f := info.fields[i]
		d.value(p, m.val, fieldForSet(v, f.index), secret || f.secret, nil)
	}
	for i, f := range info.fields {
		if f.required && !set[i] {
			d.fail(joinKey(path, f.name), "required")
		}
	}
	d.validate(path, v, d.errs[start:])
}

// mapValue decodes the JSON object raw into the map v, adding to what it
// holds (an existing entry is decoded into). An entry whose value has an
// error is left out.
func (d *decoder) mapValue(path string, raw []byte, v reflect.Value, secret bool, skip []string) {
	members := objectMembers(raw)
	t := v.Type()
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(t, len(members)))
	}
	seen := make(map[string]bool, len(members))
	for _, m := range members {
		if slices.Contains(skip, m.key) {
			continue
		}
		p := joinKey(path, m.key)
		if seen[m.key] {
			d.fail(p, "duplicate key")
			continue
		}
		seen[m.key] = true
		if kindOf(m.val) == kindNull {
			continue
		}
		key := reflect.ValueOf(m.key).Convert(t.Key())
		elem := reflect.New(t.Elem()).Elem()
		if old := v.MapIndex(key); old.IsValid() {
			elem.Set(old)
		}
		n := len(d.errs)
		d.value(p, m.val, elem, secret, nil)
		if len(d.errs) == n {
			v.SetMapIndex(key, elem)
		}
	}
}

// sliceValue decodes the JSON array raw into the slice v, replacing it.
func (d *decoder) sliceValue(path string, raw []byte, v reflect.Value, secret bool) {
	elems := arrayElems(raw)
	s := reflect.MakeSlice(v.Type(), len(elems), len(elems))
	for i, e := range elems {
		d.value(path+"["+strconv.Itoa(i)+"]", e, s.Index(i), secret, nil)
	}
	v.Set(s)
}

type validator interface{ Validate() error }

// validate calls v's Validate method, if it has one. Of what it
// returns, it drops the errors at or inside a path among failed, the
// errors decoding v found, or around one, such as "batch" for a failed
// "batch.age": what holds such a field is not what the file said.
func (d *decoder) validate(path string, v reflect.Value, failed []error) {
	if !v.CanInterface() {
		return
	}
	val, ok := v.Interface().(validator)
	if v.CanAddr() {
		if pv, pok := v.Addr().Interface().(validator); pok {
			val, ok = pv, true
		}
	}
	if !ok {
		return
	}
	failed = slices.Clone(failed)
	for _, e := range Nest(path, val.Validate()) {
		fe := e.(*FieldError)
		if !slices.ContainsFunc(failed, func(f error) bool { return related(f.(*FieldError).Path, fe.Path) }) {
			d.fail(fe.Path, fe.Msg)
		}
	}
}

// related reports whether paths a and b are the same, or one is inside
// the other.
func related(a, b string) bool {
	inside := func(x, y string) bool {
		return y == "" || strings.HasPrefix(x, y+".") || strings.HasPrefix(x, y+"[")
	}
	return a == b || inside(a, b) || inside(b, a)
}

// joinKey returns the path of key in the object at path: path.key, or
// path["key"] if key is not made of letters, digits, '_' and '-'.
func joinKey(path, key string) string {
	plain := key != ""
	for _, c := range []byte(key) {
		if !(c == '_' || c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			plain = false
			break
		}
	}
	switch {
	case !plain:
		return path + "[" + strconv.Quote(key) + "]"
	case path == "":
		return key
	default:
		return path + "." + key
	}
}

// joinPath returns the path sub, relative to path, as an absolute path.
func joinPath(path, sub string) string {
	switch {
	case sub == "":
		return path
	case path == "" || sub[0] == '[':
		return path + sub
	default:
		return path + "." + sub
	}
}
