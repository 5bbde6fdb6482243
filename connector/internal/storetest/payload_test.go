package storetest

import (
	"bytes"
	"compress/gzip"
	"testing"
	"time"
)

// TestRealistic checks that Realistic is deterministic, that its events
// are distinct and parsed, and that their encoding compresses as logs
// do (3–15× with gzip's fastest level), not ~76× as Padded's.
func TestRealistic(t *testing.T) {
	at := time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)
	a, b := Realistic(2000, at), Realistic(2000, at)
	seen := map[string]bool{}
	var enc []byte
	raw := 0
	for i := range a {
		raw += len(a[i].Value.Raw)
		if !bytes.Equal(a[i].Value.Raw, b[i].Value.Raw) || a[i].Value.Time != b[i].Value.Time {
			t.Fatalf("event %d differs between two calls: %q, %q", i, a[i].Value.Raw, b[i].Value.Raw)
		}
		if seen[string(a[i].Value.Raw)] {
			t.Fatalf("event %d repeats %q", i, a[i].Value.Raw)
		}
		seen[string(a[i].Value.Raw)] = true
		if !a[i].Value.Syslog.Present || a[i].Value.Syslog.AppName == "" || a[i].Value.Time.Before(at) {
			t.Fatalf("event %d not parsed as the syslog source does: %+v", i, a[i].Value)
		}
		enc = append(a[i].Value.AppendJSON(enc), '\n')
	}
	if r := ratio(t, enc); r < 3 || r > 15 {
		t.Errorf("realistic events compress %.1f×, want 3–15×", r)
	}
	var padded []byte
	for _, m := range Padded(2000, at) {
		padded = append(m.Value.AppendJSON(padded), '\n')
	}
	t.Logf("gzip level 1: realistic %.1f× (%d bytes per event encoded, raw %d), padded %.1f×", ratio(t, enc), len(enc)/2000, raw/2000, ratio(t, padded))
}

func ratio(t *testing.T, b []byte) float64 {
	var out bytes.Buffer
	w, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return float64(len(b)) / float64(out.Len())
}
