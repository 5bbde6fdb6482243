package config

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

var (
	durationType        = reflect.TypeFor[time.Duration]()
	secretType          = reflect.TypeFor[Secret]()
	rawMessageType      = reflect.TypeFor[json.RawMessage]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	errNotFinite        = errors.New("not a finite number")
)

const (
	maxShown     = 40 // the longest value, in characters, that a message shows
	durationWant = `a duration string like "30s"`
)

// text unquotes the JSON string raw and expands environment references in
// it. It reports problems at path and returns ok == false if there were
// any.
func (d *decoder) text(path string, raw []byte, secret bool) (s string, vars []string, ok bool) {
	s = unquote(raw)
	x := expand(s, d.lookup, secret || tooLong(s))
	for _, msg := range x.errs {
		d.fail(path, msg)
	}
	return x.value, x.vars, len(x.errs) == 0
}

// scalar decodes a boolean or a number into v, from a JSON literal of that
// kind or from a string that referred to the environment.
func (d *decoder) scalar(path string, raw []byte, k kind, v reflect.Value, secret bool) {
	t := v.Type()
	lit := kindNumber
	if t.Kind() == reflect.Bool {
		lit = kindBool
	}
	var s, shown string
	var vars []string
	switch k {
	case lit:
		s, shown = string(raw), string(raw)
	case kindString:
		var ok bool
		if s, vars, ok = d.text(path, raw, secret); !ok {
			return
		}
		if len(vars) == 0 {
			d.mismatch(path, t, k)
			return
		}
		shown = quote(s)
	default:
		d.mismatch(path, t, k)
		return
	}

	var err error
	switch t.Kind() {
	case reflect.Bool:
		var b bool
		if b, err = strconv.ParseBool(s); err == nil {
			v.SetBool(b)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var n int64
		if n, err = strconv.ParseInt(s, 10, t.Bits()); err == nil {
			v.SetInt(n)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		var n uint64
		if n, err = strconv.ParseUint(s, 10, t.Bits()); err == nil {
			v.SetUint(n)
		}
	default: // float
		var f float64
		if f, err = strconv.ParseFloat(s, t.Bits()); err == nil && (math.IsInf(f, 0) || math.IsNaN(f)) {
			err = errNotFinite
		}
		if err == nil {
			v.SetFloat(f)
		}
	}
	if err == nil {
		return
	}
	msg := "want " + want(t)
	if isInteger(s) && t.Kind() != reflect.Bool && t.Kind() != reflect.Float32 && t.Kind() != reflect.Float64 {
		msg = "want an integer between " + rangeOf(t)
	}
	d.fail(path, msg+got(shown, secret)+fromVars(vars))
}

// duration decodes a duration string into v.
func (d *decoder) duration(path string, raw []byte, k kind, v reflect.Value, secret bool) {
	if k != kindString {
		d.fail(path, "want "+durationWant+", got "+k.String())
		return
	}
	s, vars, ok := d.text(path, raw, secret)
	if !ok {
		return
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		d.fail(path, "want "+durationWant+got(quote(s), secret)+fromVars(vars))
		return
	}
	v.SetInt(int64(dur))
}

// unmarshal decodes raw into v with v's UnmarshalText (for a string) or
// UnmarshalJSON method, and reports whether v has either.
func (d *decoder) unmarshal(path string, raw []byte, k kind, v reflect.Value, secret bool) bool {
	if !v.CanAddr() {
		return false
	}
	pt := reflect.PointerTo(v.Type())
	isText, isJSON := pt.Implements(textUnmarshalerType), pt.Implements(jsonUnmarshalerType)
	switch {
	case isText && k == kindString:
		s, vars, ok := d.text(path, raw, secret)
		if !ok {
			return true
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.fail(path, invalidValue(quote(s), s, err, secret)+fromVars(vars))
		}
	case isJSON:
		if err := v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(bytes.Clone(raw)); err != nil {
			d.fail(path, invalidValue(string(raw), string(raw), err, secret))
		}
	case isText:
		d.mismatch(path, v.Type(), k)
	default:
		return false
	}
	return true
}

// invalidValue returns the message for a value, shown as shown, that a
// method rejected with err. err's text is left out for a secret, and for
// a value too long to show if the text repeats any part of it.
func invalidValue(shown, value string, err error, secret bool) string {
	switch msg := err.Error(); {
	case secret:
		return "invalid value"
	case !tooLong(value):
		return "invalid value " + shown + ": " + msg
	case echoes(msg, value):
		return "invalid value"
	default:
		return "invalid value: " + msg
	}
}

// echoes reports whether msg contains any 8 consecutive bytes of value.
func echoes(msg, value string) bool {
	const n = 8
	if len(msg) < n || len(value) < n {
		return strings.Contains(msg, value)
	}
	runs := make(map[string]bool, len(msg)-n+1)
	for i := 0; i+n <= len(msg); i++ {
		runs[msg[i:i+n]] = true
	}
	for i := 0; i+n <= len(value); i++ {
		if runs[value[i:i+n]] {
			return true
		}
	}
	return false
}

// got returns ", got " + shown, or "" if the value must not be shown.
func got(shown string, secret bool) string {
	if secret || tooLong(shown) {
		return ""
	}
	return ", got " + shown
}

func tooLong(s string) bool { return utf8.RuneCountInString(s) > maxShown }

// quote quotes s as JSON would show it.
func quote(s string) string { return strconv.Quote(s) }

// isInteger reports whether s is an optionally signed run of digits.
func isInteger(s string) bool {
	s = strings.TrimLeft(s, "+-")
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// rangeOf returns "MIN and MAX" for the integer type t.
func rangeOf(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		hi := int64(1)<<(t.Bits()-1) - 1
		return strconv.FormatInt(-hi-1, 10) + " and " + strconv.FormatInt(hi, 10)
	default:
		hi := uint64(1)<<(t.Bits()-1)<<1 - 1
		return "0 and " + strconv.FormatUint(hi, 10)
	}
}

// want returns what a value of type t is written as, with an article:
// "an integer", "an array of strings", `a duration string like "30s"`.
func want(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		return durationWant
	}
	n := noun(t, false)
	if strings.IndexByte("aeiou", n[0]) >= 0 {
		return "an " + n
	}
	return "a " + n
}

// noun returns what a value of type t is written as, in the singular or
// plural: "integer", "arrays of strings".
func noun(t reflect.Type, plural bool) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	s := "value"
	pt := reflect.PointerTo(t)
	switch {
	case t == durationType:
		s = "duration string"
	case t == rawMessageType || t.Kind() == reflect.Interface:
	case pt.Implements(textUnmarshalerType):
		s = "string"
	case pt.Implements(jsonUnmarshalerType):
	default:
		switch t.Kind() {
		case reflect.String:
			s = "string"
		case reflect.Bool:
			s = "boolean"
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			s = "integer"
		case reflect.Float32, reflect.Float64:
			s = "number"
		case reflect.Struct, reflect.Map:
			s = "object"
		case reflect.Slice:
			if plural {
				return "arrays of " + noun(t.Elem(), true)
			}
			return "array of " + noun(t.Elem(), true)
		}
	}
	if plural {
		return s + "s"
	}
	return s
}
