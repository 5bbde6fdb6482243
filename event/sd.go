package event

import "iter"

// Elements iterates over the SD-ELEMENTs of s.StructuredData, yielding each
// SD-ID with an iterator over its params (name, value). Values are as they
// appear in the message, with RFC 5424 escapes (\" \\ \]) unresolved;
// [UnescapeSD] resolves them. Iteration stops at the first malformed
// element. It allocates nothing.
func (s *Syslog) Elements() iter.Seq2[string, iter.Seq2[string, string]] {
	return func(yield func(string, iter.Seq2[string, string]) bool) {
		sd := s.StructuredData
		for len(sd) > 0 && sd[0] == '[' {
			end := elementEnd(sd)
			if end < 0 {
				return
			}
			body := sd[1:end]
			sd = sd[end+1:]
			id, params := body, ""
			for i := 0; i < len(body); i++ {
				if body[i] == ' ' {
					id, params = body[:i], body[i+1:]
					break
				}
			}
			if !yield(id, paramSeq(params)) {
				return
			}
		}
	}
}

// elementEnd returns the index of the ']' closing the element at the start
// of sd, skipping quoted values, or -1.
func elementEnd(sd string) int {
	inValue := false
	for i := 1; i < len(sd); i++ {
		switch c := sd[i]; {
		case c == '\\' && inValue:
			i++
		case c == '"':
			inValue = !inValue
		case c == ']' && !inValue:
			return i
		}
	}
	return -1
}

func paramSeq(params string) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		p := params
		for len(p) > 0 {
			eq := -1
			for i := 0; i < len(p); i++ {
				if p[i] == '=' {
					eq = i
					break
				}
			}
			if eq < 0 || eq+1 >= len(p) || p[eq+1] != '"' {
				return
			}
			name := p[:eq]
			rest := p[eq+2:]
			end := -1
			for i := 0; i < len(rest); i++ {
				if rest[i] == '\\' {
					i++
					continue
				}
				if rest[i] == '"' {
					end = i
					break
				}
			}
			if end < 0 {
				return
			}
			if !yield(name, rest[:end]) {
				return
			}
			p = rest[end+1:]
			for len(p) > 0 && p[0] == ' ' {
				p = p[1:]
			}
		}
	}
}

// Param returns the unescaped value of param name in element id, and
// whether it is present.
func (s *Syslog) Param(id, name string) (string, bool) {
	for eid, params := range s.Elements() {
		if eid != id {
			continue
		}
		for n, v := range params {
			if n == name {
				return UnescapeSD(v), true
			}
		}
	}
	return "", false
}

// UnescapeSD resolves the RFC 5424 escapes \" \\ and \] in a PARAM-VALUE.
// It returns v itself when there is nothing to resolve.
func UnescapeSD(v string) string {
	if !hasBackslash(v) {
		return v
	}
	return string(AppendUnescapedSD(nil, v))
}

// AppendUnescapedSD appends v with the RFC 5424 escapes \" \\ and \] of a
// PARAM-VALUE resolved, as [UnescapeSD] returns it, without allocating
// beyond dst's growth.
func AppendUnescapedSD(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) && (v[i+1] == '"' || v[i+1] == '\\' || v[i+1] == ']') {
			i++
		}
		dst = append(dst, v[i])
	}
	return dst
}
