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
		if e := exceptionAfterOK("http://h", "", body); e != nil && (!utf8.ValidString(e.Message) || len(e.Message) > 512+len("…")) {
			t.Errorf("message after 200 %q", e.Message)
		}
	})
}

func TestExceptionAfterOK(t *testing.T) {
	for _, tc := range []struct {
		name, header, body string
		code               int // 0: no exception
		msg                string
	}{
		{"empty", "", "", 0, ""},
		{"header only", "241", "", 241, ""},
		{"header 0", "0", "", 0, ""},
		{"plain", "", "Code: 241. DB::Exception: Memory limit (total) exceeded. (MEMORY_LIMIT_EXCEEDED)\n", 241, "Code: 241. DB::Exception: Memory limit (total) exceeded. (MEMORY_LIMIT_EXCEEDED)"},
		{"after output", "", "{\"n\":1}\nCode: 60, e.displayText() = DB::Exception: Table x doesn't exist., e.what() = DB::Exception\n", 60, "Code: 60, e.displayText() = DB::Exception: Table x doesn't exist., e.what() = DB::Exception"},
		{"marked", "", "__exception__\r\nq1w2\r\nCode: 209. DB::Exception: Timeout. (SOCKET_TIMEOUT)\r\n54 q1w2\r\n__exception__\r\n", 209, "Code: 209. DB::Exception: Timeout. (SOCKET_TIMEOUT)"},
		{"not an exception", "", "Code: review", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := exceptionAfterOK("http://h", tc.header, tc.body)
			if tc.code == 0 {
				if e != nil {
					t.Errorf("got %v, want none", e)
				}
				return
			}
			if e == nil || e.Code != tc.code || e.Message != tc.msg || e.StatusCode != 200 || e.Retryable() != transientCodes[tc.code] {
				t.Errorf("got %+v, want code %d message %q", e, tc.code, tc.msg)
			}
		})
	}
}
