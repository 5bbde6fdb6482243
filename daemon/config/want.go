package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// Want returns the error of a field whose value is not one it takes, in
// the wording every config error uses: "PATH: want WANT, got GOT", such as
// `timeout: want 0 or more, got -1s`. got is shown quoted if it is a
// string, with %v otherwise, and as "a secret" if it is a [Secret]. path
// is relative to the struct whose Validate returns the error.
func Want(path, want string, got any) *FieldError {
	var g string
	switch v := got.(type) {
	case Secret:
		g = "a secret"
	case string:
		g = strconv.Quote(v)
	default:
		g = fmt.Sprint(v)
	}
	return &FieldError{Path: path, Msg: "want " + want + ", got " + g}
}

// Nest returns the errors of err, flattening joins, placed under path:
// a [*FieldError] at path + "." + its Path; an error whose message starts
// with a field path and ": ", such as "count: want 0 or more, got -1" from
// a library's Validate, at path + "." + that field; any other at path.
func Nest(path string, err error) []error {
	if fe, ok := err.(*FieldError); err == nil || ok && fe == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Nest(path, e)...)
		}
		return out
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return []error{&FieldError{Path: joinPath(path, fe.Path), Msg: fe.Msg, Err: fe.Err}}
	}
	msg := err.Error()
	if m := leadingPath.FindStringSubmatch(msg); m != nil {
		return []error{&FieldError{Path: joinPath(path, m[1]), Msg: msg[len(m[0]):]}}
	}
	return []error{&FieldError{Path: path, Msg: msg}}
}

// leadingPath matches a field path such as "retry.initial: " or
// "paths[2]: " at the start of a message.
var leadingPath = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9]*(?:\[\d+\])*(?:\.[a-zA-Z][a-zA-Z0-9]*(?:\[\d+\])*)*): `)

// Field names a required field and whether its value is empty, for
// [Required].
type Field struct {
	Path  string
	Empty bool
}

// Required returns one error per empty field, joined: "WHAT: PATH:
// required", each wrapping a [*FieldError] so that [Nest] places it at
// its own path ("sources.in.topic: required"). It returns nil if no field
// is empty. Constructors call it for the required fields of a config
// given to them directly, or with "" or [] set in the daemon's config
// (the decoder reports a required field only when it is missing).
func Required(what string, fields ...Field) error {
	var errs []error
	for _, f := range fields {
		if f.Empty {
			errs = append(errs, fmt.Errorf("%s: %w", what, &FieldError{Path: f.Path, Msg: "required"}))
		}
	}
	return errors.Join(errs...)
}

// Pair returns the error of two fields that are set together or not at
// all, such as a certificate and its key, when one is set without the
// other: "PATH: required with OTHER" at the empty one's path. It returns
// nil if both or neither are set.
func Pair(a, b string, aSet, bSet bool) error {
	switch {
	case aSet && !bSet:
		return &FieldError{Path: b, Msg: "required with " + a}
	case bSet && !aSet:
		return &FieldError{Path: a, Msg: "required with " + b}
	}
	return nil
}
