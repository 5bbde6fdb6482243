package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tailscale/hujson"
)

// maxDepth is how deeply objects and arrays may nest, as in encoding/json.
const maxDepth = 10000

// SyntaxError is a HuJSON syntax error found by [Parse].
type SyntaxError struct {
	Line   int // 1-based; 0 if unknown
	Column int // 1-based, in bytes
	Msg    string
}

// Error returns "line:column: msg", so that a caller can prefix the file
// name as compilers do: fmt.Errorf("%s:%w", name, err).
func (e *SyntaxError) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Msg)
}

// Parse standardises HuJSON (JSON with comments and trailing commas, see
// github.com/tailscale/hujson) to JSON. Comments and trailing commas
// become spaces, so offsets and line numbers are kept. A leading UTF-8
// byte order mark is dropped. Parse does not modify data. A syntax error
// is a [*SyntaxError]; its message never includes a literal from the input
// that could be a secret, only single characters.
func Parse(data []byte) ([]byte, error) {
	b := bytes.Clone(bytes.TrimPrefix(data, []byte("\uFEFF")))
	if off, deep := tooDeep(b); deep {
		line, col := lineColumn(b, off)
		return nil, &SyntaxError{line, col, fmt.Sprintf("exceeded maximum nesting depth of %d", maxDepth)}
	}
	out, err := hujson.Standardize(b)
	if err != nil {
		return nil, syntaxError(err)
	}
	// hujson has checked every literal with encoding/json; this is a
	// second guard so that Parse never returns what Decode rejects.
	if err := json.Unmarshal(out, new(json.RawMessage)); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) && se.Offset > 0 {
			line, col := lineColumn(out, int(se.Offset)-1)
			return nil, &SyntaxError{line, col, se.Error()}
		}
		return nil, &SyntaxError{Msg: err.Error()}
	}
	return out, nil
}

// syntaxError converts an error from hujson, which reads
// "hujson: line L, column C: msg", to a *SyntaxError.
func syntaxError(err error) error {
	var line, col int
	if _, scanErr := fmt.Sscanf(err.Error(), "hujson: line %d, column %d:", &line, &col); scanErr != nil {
		return &SyntaxError{Msg: err.Error()}
	}
	msg := err.Error()
	if inner := errors.Unwrap(err); inner != nil {
		msg = inner.Error()
	}
	if lit, ok := strings.CutPrefix(msg, "invalid literal: "); ok {
		var off int
		msg, off = describeLiteral(lit)
		col += off
	}
	return &SyntaxError{line, col, msg}
}

// describeLiteral explains why lit, a run of input that hujson rejected,
// is not a JSON literal, without quoting it (it may be a secret), and
// gives the offset of the offending byte within lit where it can.
func describeLiteral(lit string) (string, int) {
	switch {
	case strings.HasPrefix(lit, `"`):
		var se *json.SyntaxError
		if err := json.Unmarshal([]byte(lit), new(string)); errors.As(err, &se) && se.Offset > 0 {
			return se.Error(), int(se.Offset) - 1
		}
		return "invalid string", 0
	case lit != "" && (lit[0] == '-' || '0' <= lit[0] && lit[0] <= '9'):
		return "invalid number", 0
	default:
		return "invalid literal (strings must be in double quotes)", 0
	}
}

// tooDeep reports whether objects and arrays in b nest more than maxDepth
// deep, and if so the offset where they do. It skips strings and
// comments and leaves any other syntax error to hujson; the guard keeps
// hujson's recursive parser from exhausting the stack.
func tooDeep(b []byte) (int, bool) {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '/':
			switch {
			case bytes.HasPrefix(b[i:], []byte("//")):
				n := bytes.IndexByte(b[i:], '\n')
				if n < 0 {
					return 0, false
				}
				i += n
			case bytes.HasPrefix(b[i:], []byte("/*")):
				n := bytes.Index(b[i+2:], []byte("*/"))
				if n < 0 {
					return 0, false
				}
				i += n + 3
			}
		case '[', '{':
			if depth++; depth > maxDepth {
				return i, true
			}
		case ']', '}':
			depth--
		}
	}
	return 0, false
}

// lineColumn returns the 1-based line and byte column of offset n in b.
func lineColumn(b []byte, n int) (line, col int) {
	line = 1 + bytes.Count(b[:n], []byte("\n"))
	col = n - bytes.LastIndexByte(b[:n], '\n')
	return line, col
}
