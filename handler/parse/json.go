package parse

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sluicehq/sluice/event"
)

// maxDepth bounds the nesting of a JSON line, and so the parser's stack.
const maxDepth = 64

// jsonParser flattens one JSON object into fields. Strings without
// escapes, numbers and arrays are substrings of the input: no copy.
type jsonParser struct {
	s   string
	i   int
	out []event.Field
}

// parseJSON appends the members of the JSON object s to out, each named
// prefix+key, and returns the extended slice. A nested object's members
// are named with the keys joined by dots ("a.b"); an empty nested object
// is the value "{}". A string is its unescaped value, a number or boolean
// its text, an array its JSON text; a null member is left out. The input
// must be one JSON object (RFC 8259), with whitespace around it at most,
// nested at most maxDepth deep.
func parseJSON(out []event.Field, s, prefix string) ([]event.Field, error) {
	p := jsonParser{s: s, out: out}
	p.ws()
	if p.i == len(p.s) || p.s[p.i] != '{' {
		return out, errors.New("json: not an object")
	}
	if err := p.object(prefix, 1); err != nil {
		return out, err
	}
	p.ws()
	if p.i != len(p.s) {
		return out, p.errorf("data after the object")
	}
	return p.out, nil
}

func (p *jsonParser) errorf(what string) error {
	return errors.New("json: offset " + strconv.Itoa(p.i) + ": " + what)
}

func (p *jsonParser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// object reads an object at p.i, which is '{', adding its members named
// prefix+key (prefix ends with a dot below the top).
func (p *jsonParser) object(prefix string, depth int) error {
	if depth > maxDepth {
		return p.errorf("nested too deep")
	}
	p.i++ // '{'
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		if prefix != "" && depth > 1 {
			p.out = append(p.out, event.Field{Name: prefix[:len(prefix)-1], Value: "{}"})
		}
		return nil
	}
	for {
		p.ws()
		if p.i == len(p.s) || p.s[p.i] != '"' {
			return p.errorf("want a member name")
		}
		key, err := p.str()
		if err != nil {
			return err
		}
		p.ws()
		if p.i == len(p.s) || p.s[p.i] != ':' {
			return p.errorf("want ':'")
		}
		p.i++
		p.ws()
		name := key
		if prefix != "" {
			name = prefix + key
		}
		if err := p.member(name, depth); err != nil {
			return err
		}
		p.ws()
		if p.i == len(p.s) {
			return p.errorf("unexpected end")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return p.errorf("want ',' or '}'")
		}
	}
}

// member reads the value of the member name.
func (p *jsonParser) member(name string, depth int) error {
	if p.i == len(p.s) {
		return p.errorf("unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object(name+".", depth+1)
	case c == '"':
		v, err := p.str()
		if err != nil {
			return err
		}
		p.out = append(p.out, event.Field{Name: name, Value: v})
	case c == '[':
		start := p.i
		if err := p.skip(depth); err != nil {
			return err
		}
		p.out = append(p.out, event.Field{Name: name, Value: p.s[start:p.i]})
	case c == 'n':
		return p.literal("null")
	case c == 't' || c == 'f':
		lit := "false"
		if c == 't' {
			lit = "true"
		}
		if err := p.literal(lit); err != nil {
			return err
		}
		p.out = append(p.out, event.Field{Name: name, Value: lit})
	default:
		start := p.i
		if err := p.number(); err != nil {
			return err
		}
		p.out = append(p.out, event.Field{Name: name, Value: p.s[start:p.i]})
	}
	return nil
}

func (p *jsonParser) literal(lit string) error {
	if !strings.HasPrefix(p.s[p.i:], lit) {
		return p.errorf("invalid value")
	}
	p.i += len(lit)
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (p *jsonParser) number() error {
	s, i := p.s, p.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && isDigit(s[i]):
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return p.errorf("invalid value")
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i == len(s) || !isDigit(s[i]) {
			p.i = i
			return p.errorf("invalid number")
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i == len(s) || !isDigit(s[i]) {
			p.i = i
			return p.errorf("invalid number")
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	p.i = i
	return nil
}

// skip checks and skips any value, for arrays, which are kept as text.
func (p *jsonParser) skip(depth int) error {
	if p.i == len(p.s) {
		return p.errorf("unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '"':
		_, err := p.str()
		return err
	case c == 'n':
		return p.literal("null")
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == '{' || c == '[':
		if depth+1 > maxDepth {
			return p.errorf("nested too deep")
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		p.i++
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == end {
			p.i++
			return nil
		}
		for {
			p.ws()
			if end == '}' {
				if p.i == len(p.s) || p.s[p.i] != '"' {
					return p.errorf("want a member name")
				}
				if _, err := p.str(); err != nil {
					return err
				}
				p.ws()
				if p.i == len(p.s) || p.s[p.i] != ':' {
					return p.errorf("want ':'")
				}
				p.i++
				p.ws()
			}
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			p.ws()
			if p.i == len(p.s) {
				return p.errorf("unexpected end")
			}
			if p.s[p.i] == end {
				p.i++
				return nil
			}
			if p.s[p.i] != ',' {
				return p.errorf("want ',' or '" + string(end) + "'")
			}
			p.i++
		}
	default:
		return p.number()
	}
}

// str reads a string at p.i, which is '"', and returns its value. Invalid
// UTF-8 and lone surrogates become U+FFFD, as in encoding/json.
func (p *jsonParser) str() (string, error) {
	start := p.i + 1
	ascii := true
	for i := start; i < len(p.s); i++ {
		switch c := p.s[i]; {
		case c == '"':
			v := p.s[start:i]
			if !ascii && !utf8.ValidString(v) {
				return p.unquote(start)
			}
			p.i = i + 1
			return v, nil
		case c == '\\':
			return p.unquote(start)
		case c < 0x20:
			p.i = i
			return "", p.errorf("control character in string")
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	p.i = len(p.s)
	return "", p.errorf("unterminated string")
}

// unquote is str's slow path, for strings with escapes or invalid UTF-8.
func (p *jsonParser) unquote(start int) (string, error) {
	var b strings.Builder
	s := p.s
	for i := start; i < len(s); {
		switch c := s[i]; {
		case c == '"':
			p.i = i + 1
			return b.String(), nil
		case c < 0x20:
			p.i = i
			return "", p.errorf("control character in string")
		case c == '\\':
			if i+1 == len(s) {
				p.i = i
				return "", p.errorf("unterminated string")
			}
			switch e := s[i+1]; e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, ok := hex4(s[i+2:])
				if !ok {
					p.i = i
					return "", p.errorf("invalid \\u escape")
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if r2, ok := hex4(strings.TrimPrefix(s[i:], `\u`)); ok && strings.HasPrefix(s[i:], `\u`) {
						if d := utf16.DecodeRune(r, r2); d != unicode.ReplacementChar {
							b.WriteRune(d)
							i += 6
							continue
						}
					}
					r = unicode.ReplacementChar
				}
				b.WriteRune(r)
				continue
			default:
				p.i = i
				return "", p.errorf("invalid escape")
			}
			i += 2
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			b.WriteRune(r) // RuneError for an invalid byte, as encoding/json
			i += n
		}
	}
	p.i = len(s)
	return "", p.errorf("unterminated string")
}

func hex4(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[:4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
