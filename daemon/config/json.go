package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// Peek returns the string value of key in the JSON object data, or "" if
// the key is absent or null, so that a caller can dispatch on "type"
// before it decodes. The value is not expanded from the environment. It
// is an error, a *FieldError, if data is not an object, if the value is
// not a string or if the key appears twice.
func Peek(data []byte, key string) (string, error) {
	found, err := Member(data, key)
	if err != nil {
		return "", err
	}
	switch k := kindOf(found); k {
	case kindNull:
		return "", nil
	case kindString:
		return unquote(found), nil
	default:
		return "", &FieldError{Path: joinKey("", key), Msg: "want a string, got " + k.String()}
	}
}

// Member returns the raw JSON value of key in the object data, or nil if
// the key is absent or null, so that a caller can decode one member of an
// object apart from the rest (with [Decode] and [Skip]). It is an error, a
// *FieldError, if data is not an object or if the key appears twice.
func Member(data []byte, key string) ([]byte, error) {
	raw := bytes.TrimSpace(data)
	if err := checkJSON(raw); err != nil {
		return nil, &FieldError{Msg: err.Error()}
	}
	if k := kindOf(raw); k != kindObject {
		return nil, &FieldError{Msg: "want an object, got " + k.String()}
	}
	var found []byte
	for _, m := range objectMembers(raw) {
		if m.key != key {
			continue
		}
		if found != nil {
			return nil, &FieldError{Path: joinKey("", key), Msg: "duplicate field"}
		}
		found = m.val
	}
	if kindOf(found) == kindNull {
		return nil, nil
	}
	return found, nil
}

// checkJSON returns an error that starts "invalid JSON: " if raw is not
// one valid JSON value.
func checkJSON(raw []byte) error {
	if json.Valid(raw) {
		return nil
	}
	err := json.Unmarshal(raw, new(json.RawMessage))
	if err == nil { // cannot happen
		return errors.New("invalid JSON")
	}
	return errors.New("invalid JSON: " + err.Error())
}

// kind is the kind of a JSON value.
type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

// String returns the kind as a message names it: "a string", "null".
func (k kind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "an array", "an object"}[k]
}

// kindOf returns the kind of raw, a valid JSON value without leading space.
func kindOf(raw []byte) kind {
	if len(raw) == 0 {
		return kindNull
	}
	switch raw[0] {
	case 'n':
		return kindNull
	case 't', 'f':
		return kindBool
	case '"':
		return kindString
	case '[':
		return kindArray
	case '{':
		return kindObject
	default:
		return kindNumber
	}
}

type member struct {
	key string
	val []byte
}

// The functions below walk JSON that has been checked to be valid, such as
// a value inside the input to Decode, so they only look for where things
// end. Given invalid JSON they return wrong results, but do not panic or
// loop.

// objectMembers returns the members of the JSON object raw, in order. The
// values are slices of raw.
func objectMembers(raw []byte) []member {
	var members []member
	i := skipSpace(raw, 1) // after '{'
	for i < len(raw) && raw[i] == '"' {
		end := stringEnd(raw, i)
		key := unquote(raw[i:end])
		i = skipSpace(raw, skipSpace(raw, end)+1) // past ':'
		end = valueEnd(raw, i)
		members = append(members, member{key, raw[i:end]})
		if i = skipSpace(raw, end); i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return members
}

// arrayElems returns the elements of the JSON array raw, as slices of it.
func arrayElems(raw []byte) [][]byte {
	var elems [][]byte
	i := skipSpace(raw, 1) // after '['
	for i < len(raw) && raw[i] != ']' {
		end := valueEnd(raw, i)
		if end == i {
			break
		}
		elems = append(elems, raw[i:end])
		if i = skipSpace(raw, end); i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return elems
}

// skipSpace returns the offset of the first byte at or after i that is not
// JSON white space, at most len(b).
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return min(i, len(b))
}

// stringEnd returns the offset just after the string that starts at b[i].
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// valueEnd returns the offset just after the value that starts at b[i].
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		for depth := 0; i < len(b); {
			switch b[i] {
			case '"':
				i = stringEnd(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	default: // a number, true, false or null
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && skipSpace(b, i) == i {
			i++
		}
		return i
	}
}

// unquote returns the value of the JSON string literal b.
func unquote(b []byte) string {
	if len(b) >= 2 && bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b) {
		return string(b[1 : len(b)-1])
	}
	var s string
	_ = json.Unmarshal(b, &s)
	return s
}
