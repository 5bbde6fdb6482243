package loki

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A rule picks out the entries of a push that Loki's 400 says it
// refused. Loki names each refused entry by its stream and timestamp, in
// one of the forms below (pkg/validation and the ingester's stream.go),
// and lists at most max_returned_errors (10) of one stream's out-of-order
// entries: the destination sends the entries it cannot name again, and
// Loki, which drops an entry identical to one it has, either stores them
// or names them in turn.
type rule struct {
	sel   map[string]string // the stream's labels as Loki wrote them; nil: any stream
	match func(ts time.Time, line string) bool
}

var (
	// entry for stream '{a="b"}' has timestamp too old: 2006-01-02T15:04:05Z, oldest acceptable timestamp is: 2006-01-09T15:04:05Z
	tooOldRE = regexp.MustCompile(`entry for stream '(\{.*?\})' has timestamp too old: (\S+), oldest acceptable timestamp is: (\S+)`)
	// entry for stream '{a="b"}' has timestamp too new: 2006-01-02T15:04:05Z
	tooNewRE = regexp.MustCompile(`entry for stream '(\{.*?\})' has timestamp too new: (\S+)`)
	// Max entry size '262144' bytes exceeded for stream '{a="b"}' while adding an entry with length '300000' bytes
	tooLongRE = regexp.MustCompile(`(?i)max entry size '(\d+)' bytes exceeded for stream '(\{.*?\})' while adding an entry with length '(\d+)' bytes`)
	// entry with timestamp 2006-01-02 15:04:05.999999999 +0000 UTC ignored, reason: 'entry too far behind, ...'
	ignoredRE = regexp.MustCompile(`entry with timestamp (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [+-]\d{4} \S+) ignored`)
	// ... for stream: {a="b"}
	forStreamRE = regexp.MustCompile(`for stream: (\{.*?\})(?:,|$|\n)`)
	// any other error naming a stream: stream '{a="b"}' has too many labels ...
	streamRE = regexp.MustCompile(`stream '(\{.*?\})'`)
)

// rules reads a 400 body into the rules that name refused entries.
func rules(body string) []rule {
	var rs []rule
	named := false
	for _, m := range tooOldRE.FindAllStringSubmatch(body, -1) {
		named = true
		sel, _ := parseSelector(m[1])
		at, err1 := time.Parse(time.RFC3339, m[2])
		oldest, err2 := time.Parse(time.RFC3339, m[3])
		if err1 != nil || err2 != nil {
			rs = append(rs, rule{sel: sel, match: func(time.Time, string) bool { return true }})
			continue
		}
		rs = append(rs, rule{sel: sel, match: func(ts time.Time, _ string) bool {
			return ts.Before(oldest) || ts.Truncate(time.Second).Equal(at)
		}})
	}
	for _, m := range tooNewRE.FindAllStringSubmatch(body, -1) {
		named = true
		sel, _ := parseSelector(m[1])
		at, err := time.Parse(time.RFC3339, m[2])
		rs = append(rs, rule{sel: sel, match: func(ts time.Time, _ string) bool {
			return err != nil || !ts.Truncate(time.Second).Before(at)
		}})
	}
	for _, m := range tooLongRE.FindAllStringSubmatch(body, -1) {
		named = true
		sel, _ := parseSelector(m[2])
		n, _ := strconv.Atoi(m[3])
		rs = append(rs, rule{sel: sel, match: func(_ time.Time, line string) bool { return len(line) == n }})
	}
	if ms := ignoredRE.FindAllStringSubmatch(body, -1); len(ms) > 0 {
		named = true
		var sels []map[string]string
		for _, s := range forStreamRE.FindAllStringSubmatch(body, -1) {
			if sel, err := parseSelector(s[1]); err == nil {
				sels = append(sels, sel)
			}
		}
		if len(sels) == 0 {
			sels = []map[string]string{nil}
		}
		for _, m := range ms {
			at, err := time.Parse("2006-01-02 15:04:05.999999999 -0700 MST", m[1])
			if err != nil {
				continue
			}
			for _, sel := range sels {
				rs = append(rs, rule{sel: sel, match: func(ts time.Time, _ string) bool { return ts.Equal(at) }})
			}
		}
	}
	if !named {
		for _, m := range streamRE.FindAllStringSubmatch(body, -1) {
			if sel, err := parseSelector(m[1]); err == nil {
				rs = append(rs, rule{sel: sel, match: func(time.Time, string) bool { return true }})
			}
		}
	}
	return rs
}

// matches reports whether labels, a stream's own, are those Loki named
// in sel: Loki may add labels of its own (service_name), so every label
// of the stream must be in sel with the same value.
func (r rule) matches(labels map[string]string, ts time.Time, line string) bool {
	for k, v := range labels {
		if r.sel != nil {
			if sv, ok := r.sel[k]; !ok || sv != v {
				return false
			}
		}
	}
	return r.match(ts, line)
}

// shorten returns s on one line, at most 512 bytes.
func shorten(s string) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if len(s) > 512 {
		s = strings.ToValidUTF8(s[:512], "") + "…"
	}
	return s
}
