package event

import "math/bits"

// appendSD appends the SD-ELEMENTs of sd as the members of a JSON object,
// `"id":{"name":"value",...}` separated by commas, and returns the
// extended buffer. It writes what appendSDElements does, byte for byte, in
// one pass over sd when sd is well formed (as the syslog parser accepts
// it), and calls appendSDElements for anything else.
func appendSD(dst []byte, sd string) []byte {
	if out, ok := appendSDFast(dst, sd); ok {
		return out
	}
	return appendSDElements(dst, sd)
}

// appendSDElements appends what [Syslog.Elements] yields for sd, as
// appendSD does: SD-IDs and PARAM-NAMEs escaped as JSON strings, values
// with their RFC 5424 escapes resolved.
func appendSDElements(dst []byte, sd string) []byte {
	first := true
	for id, params := range (&Syslog{StructuredData: sd}).Elements() {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendString(dst, id)
		dst = append(dst, `:{`...)
		firstParam := true
		for name, value := range params {
			if !firstParam {
				dst = append(dst, ',')
			}
			firstParam = false
			dst = AppendString(dst, name)
			dst = append(dst, ':')
			dst = appendSDValue(dst, value)
		}
		dst = append(dst, '}')
	}
	return dst
}

// appendSDFast is appendSD for sd made only of
//
//	'[' NAME *(' ' NAME '="' VALUE '"') ']'
//
// elements, back to back, where a NAME is bytes of [plainName] and a
// VALUE any bytes, a backslash taking the byte after it. For such sd,
// Elements yields each NAME and VALUE as written, so the output is the
// same; a plain value (no byte [special] to JSON) is found by the word
// scan of next and copied at once. It returns ok false, having written
// nothing that counts, for any other sd.
func appendSDFast(dst []byte, sd string) (_ []byte, ok bool) {
	i := 0
	for i < len(sd) {
		if sd[i] != '[' {
			return dst, false
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		j := nameEnd(sd, i+1)
		if j == i+1 {
			return dst, false
		}
		dst = append(dst, '"')
		dst = appendRun(dst, sd, i+1, j)
		dst = append(dst, `":{`...)
		i = j
		for first := true; ; first = false {
			if i == len(sd) {
				return dst, false
			}
			if sd[i] == ']' {
				i++
				break
			}
			j = nameEnd(sd, i+1)
			if sd[i] != ' ' || j == i+1 || j+1 >= len(sd) || sd[j] != '=' || sd[j+1] != '"' {
				return dst, false
			}
			if !first {
				dst = append(dst, ',')
			}
			dst = append(dst, '"')
			dst = appendRun(dst, sd, i+1, j)
			dst = append(dst, `":`...)
			v := j + 2
			var end int
			if v+8 <= len(sd) { // most values end within a word
				if m := special(load64(sd, v)); m != 0 {
					end = v + bits.TrailingZeros64(m)>>3
				} else {
					end = next(sd, v+8)
				}
			} else {
				end = next(sd, v)
			}
			if end < len(sd) && sd[end] == '"' { // plain: copied as it is, with its quotes
				dst = appendRun(dst, sd, v-1, end+1)
			} else {
				if end = valueEnd(sd, end); end < 0 {
					return dst, false
				}
				dst = appendSDValue(dst, sd[v:end])
			}
			i = end + 1
		}
		dst = append(dst, '}')
	}
	return dst, true
}

// nameEnd returns the index of the first byte of sd[i:] that is not in
// [plainName], or len(sd).
func nameEnd(sd string, i int) int {
	for i < len(sd) && plainName[sd[i]] {
		i++
	}
	return i
}

// valueEnd returns the index of the quote that ends the PARAM-VALUE
// going on at sd[i:] (i at a byte of it, not inside an escape), skipping
// the byte after each backslash as Elements does; -1 if there is none.
func valueEnd(sd string, i int) int {
	for ; i < len(sd); i++ {
		switch sd[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// plainName[b] reports whether b may be in an SD-NAME (PRINTUSASCII but
// '=', SP, ']' and '"') and needs no JSON escaping (not '\\').
var plainName = func() (t [256]bool) {
	for b := '!'; b <= '~'; b++ {
		t[b] = b != '=' && b != ']' && b != '"' && b != '\\'
	}
	return t
}()
