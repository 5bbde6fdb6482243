package loki

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// oldBody is the push body as group made it before its fast paths: a
// stream key per event, lines copied, one stable sort by stream then
// time.
func oldBody(p *pusher, msgs []sluice.Message[event.Event]) string {
	s := &scratch{index: map[string]int{}}
	var key, tmp []byte
	for i := range msgs {
		e := &msgs[i].Value
		key = p.lab.key(key[:0], &tmp, e)
		st, ok := s.index[string(key)]
		if !ok {
			st = len(s.streams)
			s.index[string(key)] = st
			labels, _ := parseSelector(string(key))
			s.streams = append(s.streams, stream{labels: labels, json: labelsJSON(labels)})
		}
		var line []byte
		if p.json {
			line = e.AppendJSON(nil)
		} else {
			line = slices.Clone(e.Raw)
		}
		s.entries = append(s.entries, entry{msg: i, stream: st, ts: e.Timestamp().UnixNano(), line: line})
	}
	slices.SortStableFunc(s.entries, func(a, b entry) int {
		if a.stream != b.stream {
			return a.stream - b.stream
		}
		return int(min(max(a.ts-b.ts, -1), 1))
	})
	b, _ := s.encodeJSON(s.all())
	return string(b)
}

// TestGroupAsBefore checks that group's fast paths (no key per event,
// lines not copied, a sort only where a stream is out of time order)
// push the body the plain stable sort did, flush after flush of one
// reused scratch.
func TestGroupAsBefore(t *testing.T) {
	at := time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)
	long := strings.Repeat("x", maxLabelValue)
	// mk returns events of (app, ns after at) pairs; lines name their position.
	mk := func(spec ...any) []sluice.Message[event.Event] {
		var msgs []sluice.Message[event.Event]
		for i := 0; i < len(spec); i += 2 {
			app, ns := spec[i].(string), spec[i+1].(int)
			e := event.Event{Time: at.Add(time.Duration(ns)), Raw: fmt.Appendf(nil, "line %d \"%s\"", i/2, app),
				Syslog: event.Syslog{Present: true, AppName: app}}
			msgs = append(msgs, sluice.Message[event.Event]{Value: e})
		}
		return msgs
	}
	var many []any // 300 events of 2 streams at 3 instants, out of order
	for i := range 300 {
		many = append(many, []string{"a", "b"}[i%2], (i*7)%3)
	}
	templated := map[string]string{"job": "j", "app": "{syslog.appName}"}
	static := map[string]string{"job": "j", "env": "prod"}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		json   bool
		msgs   []sluice.Message[event.Event]
	}{
		{"empty", templated, false, nil},
		{"one stream sorted", templated, false, mk("a", 1, "a", 2, "a", 3, "a", 4)},
		{"one stream unsorted", templated, false, mk("a", 4, "a", 2, "a", 3, "a", 1)},
		{"equal timestamps keep their order", templated, false, mk("a", 5, "a", 5, "a", 1, "a", 5, "a", 1)},
		{"streams interleaved sorted", templated, false, mk("a", 1, "b", 2, "c", 3, "a", 4, "b", 5, "c", 6)},
		{"streams interleaved, one unsorted", templated, false, mk("a", 1, "b", 9, "a", 2, "b", 3, "c", 7, "b", 3, "a", 3)},
		{"streams interleaved unsorted, equal times", templated, false, mk("b", 3, "a", 3, "b", 1, "a", 3, "b", 3, "a", 0, "c", 0)},
		{"many equal timestamps, two streams", templated, false, mk(many...)},
		{"static labels sorted", static, false, mk("a", 1, "b", 2, "c", 2)},
		{"static labels unsorted", static, false, mk("a", 3, "b", 2, "c", 2, "d", 1)},
		{"empty value: the default stream", templated, false, mk("", 2, "a", 1, "", 1)},
		{"values cut to one key share a stream", templated, false, mk(long+"1", 2, "a", 1, long+"2", 1, long+"1", 0)},
		{"json lines unsorted", templated, true, mk("a", 2, "b", 1, "a", 1, "b", 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lab, err := newLabeler(tc.labels)
			if err != nil {
				t.Fatal(err)
			}
			p := &pusher{lab: lab, json: tc.json}
			s := &scratch{index: map[string]int{}, byValues: map[string]int{}}
			// a first flush of other streams leaves buffers and maps to reuse
			s.group(p, mk("z", 9, "y", 1, "z", 0, "x", 3, "a", 7))
			s.group(p, tc.msgs)
			got, _ := s.encodeJSON(s.all())
			if want := oldBody(p, tc.msgs); string(got) != want {
				t.Errorf("body:\n got %s\nwant %s", got, want)
			}
		})
	}
}
