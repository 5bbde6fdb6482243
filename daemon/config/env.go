package config

import (
	"slices"
	"strings"
)

// expansion is a string with its environment references replaced.
type expansion struct {
	value string
	vars  []string // the variables referred to, in order, without repeats
	errs  []string // one message per problem, in order
}

// expand replaces environment references in s, as the package doc
// describes: s == "$NAME", "${NAME}" anywhere, and "$$" for "$". hidden
// means s must not appear in a message (a variable's name may).
func expand(s string, lookup func(string) (string, bool), hidden bool) expansion {
	var x expansion
	if len(s) > 1 && s[0] == '$' && isName(s[1:]) {
		x.value = x.get(s[1:], lookup)
		return x
	}
	if !strings.Contains(s, "$") {
		x.value = s
		return x
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				x.errs = append(x.errs, `missing "}" after "${" (write "$$" for a literal "$")`)
				return x
			}
			name := s[i+2 : i+2+end]
			i += 3 + end
			if !isName(name) {
				if hidden {
					x.errs = append(x.errs, "invalid environment variable name")
				} else {
					x.errs = append(x.errs, "invalid environment variable name "+quote(name))
				}
				continue
			}
			b.WriteString(x.get(name, lookup))
		default:
			b.WriteByte('$')
			i++
		}
	}
	x.value = b.String()
	return x
}

// get looks name up, recording it and, if it is unset, an error.
func (x *expansion) get(name string, lookup func(string) (string, bool)) string {
	if slices.Contains(x.vars, name) {
		v, _ := lookup(name)
		return v
	}
	x.vars = append(x.vars, name)
	v, ok := lookup(name)
	if !ok {
		x.errs = append(x.errs, "environment variable "+name+" is not set")
	}
	return v
}

// isName reports whether s is a variable name: a letter or underscore,
// then letters, digits and underscores.
func isName(s string) bool {
	if s == "" || '0' <= s[0] && s[0] <= '9' {
		return false
	}
	for _, c := range []byte(s) {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// fromVars returns " (from $A, $B)" for the variables a value came from,
// or "" if it came from none.
func fromVars(vars []string) string {
	if len(vars) == 0 {
		return ""
	}
	return " (from $" + strings.Join(vars, ", $") + ")"
}
