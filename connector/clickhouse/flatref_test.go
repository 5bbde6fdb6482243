package clickhouse

import (
	"bytes"
	"errors"
)

// appendFlat is how the encoder flattened an event before appendRow:
// it wrote the event's JSON and read it back. It stays as the reference
// the tests hold appendRow to (same rows out).
//
// appendFlat appends the JSON object obj with its nested objects
// flattened into top-level names joined by dots, at any depth:
// {"syslog":{"appName":"a","structuredData":{"id":{"k":"v"}}}} becomes
// {"syslog.appName":"a","syslog.structuredData.id.k":"v"}. Arrays and
// scalars are copied as they are; an empty nested object leaves nothing.
// Names are joined as written, escapes kept, so the result is valid JSON
// whenever obj is. It allocates nothing beyond dst's growth and path's.
//
// Every ClickHouse version matches such a name to a column of that name
// (`syslog.appName` String), which 18.x's input_format_import_nested_json
// does only one level deep.
func appendFlat(dst, path, obj []byte) ([]byte, []byte, error) {
	f := flattener{src: obj, out: append(dst, '{'), path: path[:0], first: true}
	f.skipSpace()
	if err := f.object(); err != nil {
		return dst, f.path, err
	}
	f.skipSpace()
	if f.i != len(f.src) {
		return dst, f.path, errNotObject
	}
	return append(f.out, '}'), f.path, nil
}

var errNotObject = errors.New("not one JSON object")

type flattener struct {
	src   []byte
	i     int
	out   []byte
	path  []byte // the names above the current object, each followed by '.'
	first bool   // nothing written yet
}

// object reads the object at f.i, writing its members under f.path.
func (f *flattener) object() error {
	if f.i >= len(f.src) || f.src[f.i] != '{' {
		return errNotObject
	}
	f.i++
	f.skipSpace()
	if f.i < len(f.src) && f.src[f.i] == '}' {
		f.i++
		return nil
	}
	for {
		f.skipSpace()
		start := f.i
		if err := f.str(); err != nil {
			return err
		}
		name := f.src[start+1 : f.i-1] // between the quotes, escapes kept
		f.skipSpace()
		if f.i >= len(f.src) || f.src[f.i] != ':' {
			return errNotObject
		}
		f.i++
		f.skipSpace()
		if f.i < len(f.src) && f.src[f.i] == '{' {
			n := len(f.path)
			f.path = append(append(f.path, name...), '.')
			if err := f.object(); err != nil {
				return err
			}
			f.path = f.path[:n]
		} else {
			vstart := f.i
			if err := f.value(); err != nil {
				return err
			}
			if !f.first {
				f.out = append(f.out, ',')
			}
			f.first = false
			f.out = append(f.out, '"')
			f.out = append(f.out, f.path...)
			f.out = append(f.out, name...)
			f.out = append(f.out, '"', ':')
			f.out = append(f.out, f.src[vstart:f.i]...)
		}
		f.skipSpace()
		if f.i >= len(f.src) {
			return errNotObject
		}
		switch f.src[f.i] {
		case ',':
			f.i++
		case '}':
			f.i++
			return nil
		default:
			return errNotObject
		}
	}
}

// value skips a string, number, literal, array or object.
func (f *flattener) value() error {
	if f.i >= len(f.src) {
		return errNotObject
	}
	switch f.src[f.i] {
	case '"':
		return f.str()
	case '[', '{':
		depth := 0
		for f.i < len(f.src) {
			switch f.src[f.i] {
			case '"':
				if err := f.str(); err != nil {
					return err
				}
				continue
			case '[', '{':
				depth++
			case ']', '}':
				depth--
				if depth == 0 {
					f.i++
					return nil
				}
			}
			f.i++
		}
		return errNotObject
	}
	start := f.i
	for f.i < len(f.src) {
		switch c := f.src[f.i]; {
		case c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if f.i == start {
				return errNotObject
			}
			return nil
		}
		f.i++
	}
	return errNotObject
}

// str skips the string at f.i, quotes included.
func (f *flattener) str() error {
	if f.i >= len(f.src) || f.src[f.i] != '"' {
		return errNotObject
	}
	i := f.i + 1
	for {
		k := bytes.IndexByte(f.src[i:], '"')
		if k < 0 {
			return errNotObject
		}
		i += k
		// The quote ends the string unless an odd number of
		// backslashes escapes it.
		n := 0
		for j := i - 1; j > f.i && f.src[j] == '\\'; j-- {
			n++
		}
		i++
		if n%2 == 0 {
			f.i = i
			return nil
		}
	}
}

func (f *flattener) skipSpace() {
	for f.i < len(f.src) {
		switch f.src[f.i] {
		case ' ', '\t', '\n', '\r':
			f.i++
		default:
			return
		}
	}
}
