package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSmoke runs the CI smoke mode in-process: sluiced and the relay on
// p1, p2, p2t and p6, sluiced with both buffers and the disk
// ceiling on p7, failing on any missing or duplicated line.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds sluiced and sends 50000 lines; skipped with -short")
	}
	var out strings.Builder
	if err := Main(SmokeOptions(), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
}

func TestLoadIsDeterministic(t *testing.T) {
	a, err := BuildLoad(Format5424, FramingLF, 100)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := BuildLoad(Format5424, FramingLF, 100)
	if string(a.Buf) != string(b.Buf) {
		t.Fatal("two loads from the same seed differ")
	}
	for i := range a.Lines() {
		if seq, ok := findSeq(a.Frame(i)); !ok || seq != i {
			t.Fatalf("frame %d has seq %d, %v: %q", i, seq, ok, a.Frame(i))
		}
	}
}

func TestJSONEvents(t *testing.T) {
	l, err := BuildLoad(FormatJSON, FramingLF, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i := range l.Lines() {
		line := l.Frame(i)
		if len(line) != jsonLen+1 || line[jsonLen] != '\n' {
			t.Fatalf("event %d: got %d bytes, want %d and a newline: %q", i, len(line), jsonLen, line)
		}
		if !json.Valid(line) {
			t.Fatalf("event %d is not JSON: %q", i, line)
		}
		if seq, ok := findSeq(line); !ok || seq != i {
			t.Fatalf("event %d has seq %d, %v: %q", i, seq, ok, line)
		}
	}
}
