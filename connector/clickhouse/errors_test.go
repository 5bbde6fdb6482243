package clickhouse

import (
	"testing"
	"unicode/utf8"
)

func TestParseError(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		code, row  int
	}{
		{"18.x", "Code: 41, e.displayText() = DB::Exception: Cannot read DateTime: unexpected word: (while read the value of key ts): (at row 3)\n, e.what() = DB::Exception", 41, 3},
		{"recent", "Code: 27. DB::Exception: Cannot parse input: expected '{' before: 'x': (at row 12)\n: While executing ParallelParsingBlockInputFormat. (CANNOT_PARSE_INPUT_ASSERTION_FAILED) (version 23.8.1.1)", 27, 12},
		{"schema error has no row", "Code: 60. DB::Exception: Table default.x does not exist. (at row 1)", 60, 0},
		{"no code", "<html>502</html>", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := parseError("http://h", 500, "", tc.body)
			if e.Code != tc.code || e.Row != tc.row {
				t.Errorf("code %d row %d, want %d %d", e.Code, e.Row, tc.code, tc.row)
			}
		})
	}
}

// FuzzParseError: any body parses without panicking into a message of at
// most 512 bytes (plus "…") of valid UTF-8, and a row only for row codes.
func FuzzParseError(f *testing.F) {
	f.Add("Code: 41, e.displayText() = DB::Exception: x (at row 3)")
	f.Add("Code: 60. DB::Exception: Table default.x does not exist.")
	f.Add("\xff\xfe")
	f.Fuzz(func(t *testing.T, body string) {
		e := parseError("http://h", 500, "7", body)
		if !utf8.ValidString(e.Message) || len(e.Message) > 512+len("…") {
			t.Errorf("message %q", e.Message)
		}
		if e.Row != 0 && !rowCodes[e.Code] {
			t.Errorf("row %d for code %d", e.Row, e.Code)
		}
		_ = e.Error()
		_ = e.Retryable()
	})
}
