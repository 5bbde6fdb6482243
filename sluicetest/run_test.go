package sluicetest_test

import (
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
)

// runTest runs test as go test runs a test function and returns PASS or
// FAIL, so that an example can show a whole conformance test and check its
// outcome. A failure prints its report, which the example's Output then
// does not match. -v is turned off meanwhile: it would print the test's
// progress into the example's output.
func runTest(test func(*testing.T)) string {
	if v := flag.Lookup("test.v"); v != nil {
		old := v.Value.String()
		_ = v.Value.Set("false")
		defer func() { _ = v.Value.Set(old) }()
	}
	all := func(string, string) (bool, error) { return true, nil }
	if testing.RunTests(all, []testing.InternalTest{{Name: "TestConformance", F: test}}) {
		return "PASS"
	}
	return "FAIL"
}

// TestDocExample checks that the example in the package comment is the
// code of ExampleRun, which compiles and runs.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	var code []string
	for _, l := range strings.Split(string(doc), "\n") {
		if c, ok := strings.CutPrefix(l, "//\t"); ok {
			code = append(code, c)
		}
	}
	if len(code) == 0 {
		t.Fatal("doc.go has no code block")
	}
	// In ExampleRun the test is a func literal, one tab further in.
	body := strings.Join(code[1:len(code)-1], "\n")
	body = regexp.MustCompile(`(?m)^`).ReplaceAllString(body, "\t")
	if !strings.Contains(string(example), body) {
		t.Errorf("the code in doc.go is not ExampleRun's; doc.go has:\n%s", strings.Join(code, "\n"))
	}
}
