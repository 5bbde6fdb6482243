package httpsrc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// errTooMany is returned by parseBody for a body with more events than
// allowed.
var errTooMany = errors.New("too many events")

// parseBody splits body into the raw bytes of its events, read as format
// ("ndjson", "json" or "lines"). It returns errTooMany once it finds more
// than max events, and any other error for a body that does not parse, in
// which case nothing of the body is used. The events point into body, or,
// for JSON values that were not compact, into one new buffer.
func parseBody(body []byte, format string, max int) ([][]byte, error) {
	switch format {
	case "json":
		return parseJSON(body, max)
	case "ndjson", "lines":
		var raws [][]byte
		for n := 1; len(body) > 0; n++ {
			line := body
			if i := bytes.IndexByte(body, '\n'); i >= 0 {
				line, body = body[:i], body[i+1:]
			} else {
				body = nil
			}
			line = bytes.TrimSuffix(line, []byte("\r"))
			if format == "ndjson" {
				line = trimJSONSpace(line)
				if len(line) > 0 && !json.Valid(line) {
					return nil, fmt.Errorf("line %d: %w", n, jsonError(line))
				}
			}
			if len(line) == 0 {
				continue
			}
			if len(raws) == max {
				return nil, errTooMany
			}
			raws = append(raws, line)
		}
		return raws, nil
	}
	return nil, fmt.Errorf("unknown format %q", format)
}

// parseJSON reads a JSON array of objects and strings, or a single
// object. An object becomes its compact JSON text, a string its value.
func parseJSON(body []byte, max int) ([][]byte, error) {
	trimmed := trimJSONSpace(body)
	if len(trimmed) == 0 {
		return nil, errors.New("empty body: want a JSON array or object")
	}
	if !json.Valid(trimmed) {
		return nil, jsonError(trimmed)
	}
	var buf []byte // compacted values, shared by the events
	var raws [][]byte
	add := func(i int, v json.RawMessage) error {
		switch v[0] {
		case '{':
		case '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("element %d: %w", i, err)
			}
			if len(raws) == max {
				return errTooMany
			}
			raws = append(raws, []byte(s))
			return nil
		default:
			return fmt.Errorf("element %d: want an object or a string", i)
		}
		if len(raws) == max {
			return errTooMany
		}
		if isCompact(v) {
			raws = append(raws, v)
			return nil
		}
		start := len(buf)
		var b bytes.Buffer
		_ = json.Compact(&b, v) // v is valid
		buf = append(buf, b.Bytes()...)
		raws = append(raws, buf[start:len(buf):len(buf)])
		return nil
	}
	switch trimmed[0] {
	case '{':
		if err := add(0, trimmed); err != nil {
			return nil, err
		}
		return raws, nil
	case '[':
	default:
		return nil, errors.New("want a JSON array or object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if _, err := dec.Token(); err != nil { // [
		return nil, err
	}
	for i := 0; dec.More(); i++ {
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		// Decode copies; point into body instead, so that events share it.
		if end := int(dec.InputOffset()); end >= len(v) && bytes.Equal(trimmed[end-len(v):end], v) {
			v = trimmed[end-len(v) : end : end]
		}
		v = trimJSONSpace(v)
		if err := add(i, v); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) { // ]
		return nil, err
	}
	return raws, nil
}

// isCompact reports whether the valid JSON text v has no whitespace
// outside its strings.
func isCompact(v []byte) bool {
	in, esc := false, false
	for _, c := range v {
		switch {
		case esc:
			esc = false
		case in && c == '\\':
			esc = true
		case c == '"':
			in = !in
		case !in && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return false
		}
	}
	return true
}

// jsonError describes why data is not valid JSON.
func jsonError(data []byte) error {
	var v json.RawMessage
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	return errors.New("invalid JSON")
}

// trimJSONSpace removes the whitespace JSON allows around a value.
func trimJSONSpace(b []byte) []byte { return bytes.Trim(b, " \t\r\n") }
