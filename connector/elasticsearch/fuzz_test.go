package elasticsearch

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/event"
)

// FuzzParseIndex checks that a pattern parseIndex accepts always expands
// to a valid index name.
func FuzzParseIndex(f *testing.F) {
	for _, s := range []string{"logs-%Y.%m.%d", "a%H", "%Y", "x%%", "%q", "Logs", "-x", "a b", "%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		x, err := parseIndex(p)
		if err != nil {
			return
		}
		name := string(x.append(nil, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
		if name == "" || strings.ContainsAny(name, `\/*?"<>|, #:%`) || strings.ToLower(name) != name || strings.IndexByte("-_+", name[0]) >= 0 {
			t.Errorf("pattern %q gives the invalid index name %q", p, name)
		}
	})
}

// FuzzBulkResponse checks that decoding any response body neither panics
// nor reports items it did not read.
func FuzzBulkResponse(f *testing.F) {
	for _, s := range []string{
		`{"errors":false,"items":[{"index":{"status":201}}]}`,
		`{"took":3,"errors":true,"items":[{"create":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"x"}}}]}`,
		`{"items":[{"index":{"status":400}}],"errors":true}`,
		`[]`, `{"errors":"yes"}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r bulkResponse
		if err := r.decode(strings.NewReader(string(b))); err != nil {
			return
		}
		for _, it := range r.Items {
			_ = it.status()
			_ = it.reason()
		}
	})
}

// FuzzAppendDoc checks appendDoc, which copies "@timestamp" from the
// JSON's "ts", against the document written the plain way: the time
// formatted by the time package, then the JSON without its "{", after
// whatever dst held.
func FuzzAppendDoc(f *testing.F) {
	for _, s := range []int64{0, 1764025200, -62135596800, -62167219200, -62167219201, 253402300799, 253402300800, -1} {
		for _, ns := range []uint32{0, 1, 120000000, 999999999, 100} {
			f.Add(s, ns, "<13>1 2026-11-24T23:00:00Z host app - - - hi", []byte("prefix\n"))
		}
	}
	f.Fuzz(func(t *testing.T, secs int64, ns uint32, raw string, dst []byte) {
		e := event.Event{Time: time.Unix(secs, int64(ns%1e9)), Raw: []byte(raw), Source: "s", Host: "h"}
		want := append(slices.Clone(dst), `{"@timestamp":"`...)
		want = e.Timestamp().UTC().AppendFormat(want, time.RFC3339Nano)
		want = append(want, `",`...)
		want = append(want, e.AppendJSON(nil)[1:]...)
		if got := appendDoc(slices.Clip(dst), &e, event.JSONOptions{}); string(got) != string(want) {
			t.Errorf("appendDoc\n got %s\nwant %s", got, want)
		}
	})
}

// FuzzIndexNames checks the cached name of one time after another's
// against the name written for it alone.
func FuzzIndexNames(f *testing.F) {
	f.Add("logs-%Y.%m.%d", int64(1764025200), int64(1764028799))
	f.Add("a-%H", int64(-1), int64(0))
	f.Add("a-%Y%m%d%H", int64(-3600), int64(-3601))
	f.Add("x", int64(0), int64(-62135596800))
	f.Fuzz(func(t *testing.T, p string, s1, s2 int64) {
		x, err := parseIndex(p)
		if err != nil {
			return
		}
		var c indexNames
		for _, s := range []int64{s1, s2, s1} {
			tm := time.Unix(s, 0)
			if got, want := string(c.name(x, tm)), string(x.append(nil, tm)); got != want {
				t.Errorf("%q at %d: %q, want %q", p, s, got, want)
			}
		}
	})
}
