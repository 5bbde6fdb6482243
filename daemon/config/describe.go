package config

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// FieldDoc documents one field of a config struct, for a generated
// reference.
type FieldDoc struct {
	// Path is the field's place below the struct: "addr", "tls.certFile";
	// "[]" stands for any element of an array ("routes[].from") and "*"
	// for any key of a map ("headers.*.value").
	Path string
	// Type is how the value is written: "string", "integer", "number",
	// "boolean", "duration", "secret", "object", "any", "array of T" or
	// "map of T", where T is one of these.
	Type string
	// Required is true for a field tagged `sluice:"required"`; it applies
	// when the object holding the field is present.
	Required bool
	// Secret is true for a field of type Secret or tagged
	// `sluice:"secret"`, and for everything below such a field.
	Secret bool
	// Default is the field's value in the value given to Describe, as
	// JSON ("\"udp\"", "8080", "\"30s\"", "[\"a\"]"), or "" if it is the
	// zero value. It is "\"REDACTED\"" for a secret that is set. Objects
	// have "", as their fields have their own defaults.
	Default string
}

// Describe lists the fields of the config struct v (or *v), in the order
// Decode knows them: declaration order, with promoted fields of embedded
// structs in place. Each object field is followed by the fields inside it,
// and so is each array or map of objects. Defaults are read from v, so a
// caller passes the value it pre-fills before [Decode]. Describe returns
// nil if v is not a struct or a pointer to one.
func Describe(v any) []FieldDoc {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return nil
	}
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			rv = reflect.Zero(rv.Type().Elem())
		} else {
			rv = rv.Elem()
		}
	}
	if rv.Kind() != reflect.Struct || typeName(rv.Type()) != "object" {
		return nil
	}
	var docs []FieldDoc
	describeStruct(&docs, "", rv, false, map[reflect.Type]bool{})
	return docs
}

// describeStruct appends the fields of the struct v. stack holds the
// struct types being described, to stop on recursive types.
func describeStruct(docs *[]FieldDoc, path string, v reflect.Value, secret bool, stack map[reflect.Type]bool) {
	t := v.Type()
	if stack[t] {
		return
	}
	stack[t] = true
	defer delete(stack, t)
	for _, f := range structFields(t).fields {
		fv := fieldForGet(v, f.index, f.typ)
		p := joinKey(path, f.name)
		sec := secret || f.secret
		*docs = append(*docs, FieldDoc{
			Path:     p,
			Type:     typeName(f.typ),
			Required: f.required,
			Secret:   sec,
			Default:  defaultOf(fv, sec),
		})
		describeInside(docs, p, fv, sec, stack)
	}
}

// describeInside appends the fields of objects inside v: v itself, or the
// elements of an array or map.
func describeInside(docs *[]FieldDoc, path string, v reflect.Value, secret bool, stack map[reflect.Type]bool) {
	t := v.Type()
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v = reflect.Zero(t.Elem())
		} else {
			v = v.Elem()
		}
		describeInside(docs, path, v, secret, stack)
	case reflect.Struct:
		if typeName(t) == "object" {
			describeStruct(docs, path, v, secret, stack)
		}
	case reflect.Slice:
		if typeName(t) != "any" {
			describeInside(docs, path+"[]", reflect.Zero(t.Elem()), secret, stack)
		}
	case reflect.Map:
		describeInside(docs, joinPath(path, "*"), reflect.Zero(t.Elem()), secret, stack)
	}
}

// typeName returns the FieldDoc.Type of t.
func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	pt := reflect.PointerTo(t)
	switch {
	case t == durationType:
		return "duration"
	case t == secretType:
		return "secret"
	case t == rawMessageType || t.Kind() == reflect.Interface && t.NumMethod() == 0:
		return "any"
	case pt.Implements(textUnmarshalerType):
		return "string"
	case pt.Implements(jsonUnmarshalerType):
		return "any"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Struct:
		return "object"
	case reflect.Slice:
		return "array of " + typeName(t.Elem())
	case reflect.Map:
		if t.Key().Kind() == reflect.String {
			return "map of " + typeName(t.Elem())
		}
	}
	return "unsupported (" + t.String() + ")"
}

// defaultOf returns the FieldDoc.Default of the field value v.
func defaultOf(v reflect.Value, secret bool) string {
	switch {
	case !v.IsValid() || v.IsZero() || !v.CanInterface():
		return ""
	case secret:
		return strconv.Quote(Redacted)
	case typeName(v.Type()) == "object":
		return ""
	}
	return defaultJSON(v)
}

// defaultJSON returns v as JSON, with durations as strings.
func defaultJSON(v reflect.Value) string {
	switch {
	case v.Type() == durationType:
		return strconv.Quote(time.Duration(v.Int()).String())
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			return "null"
		}
		return defaultJSON(v.Elem())
	case v.Kind() == reflect.Slice && typeName(v.Type()) != "any":
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = defaultJSON(v.Index(i))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v.Interface()); err != nil {
		return ""
	}
	return strings.TrimSuffix(b.String(), "\n")
}
