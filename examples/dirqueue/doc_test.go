package dirqueue_test

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDoc checks that docs/connectors.md shows this package whole: the
// code blocks marked with a file's path, joined, are the file, and the
// line counts it gives are true.
func TestDoc(t *testing.T) {
	doc, err := os.ReadFile("../../docs/connectors.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := make(map[string][]string) // file → its blocks in the doc
	marker := regexp.MustCompile("(?m)^<!-- (examples/dirqueue/[a-z_]+\\.go) -->\n```go\n")
	for _, m := range marker.FindAllSubmatchIndex(doc, -1) {
		rest := string(doc[m[1]:])
		end := strings.Index(rest, "```\n")
		if end < 0 {
			t.Fatalf("a code block of %s does not end", doc[m[2]:m[3]])
		}
		path := string(doc[m[2]:m[3]])
		blocks[path] = append(blocks[path], rest[:end])
	}
	for _, file := range []string{"dirqueue.go", "dirqueue_test.go"} {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		shown := strings.Join(blocks["examples/dirqueue/"+file], "\n")
		if shown != string(src) {
			t.Errorf("docs/connectors.md does not show %s as it is; it shows:\n%s", file, shown)
		}
		lines := bytes.Count(src, []byte("\n"))
		said := regexp.MustCompile("`" + regexp.QuoteMeta(file) + "`, ([0-9]+)\\s+lines").FindSubmatch(doc)
		if said == nil || string(said[1]) != strconv.Itoa(lines) {
			t.Errorf("docs/connectors.md gives %s's length as %q, want %d lines", file, said, lines)
		}
	}
	if n := regexp.MustCompile(`passing conformance suite in ([0-9]+) lines`).FindSubmatch(doc); n == nil {
		t.Errorf("docs/connectors.md does not say how long the connector is")
	} else if src, _ := os.ReadFile("dirqueue.go"); string(n[1]) != strconv.Itoa(bytes.Count(src, []byte("\n"))) {
		t.Errorf("docs/connectors.md says the connector is %s lines", n[1])
	}
}
