package clickhouse

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// ServerError is an INSERT that ClickHouse answered with an error.
type ServerError struct {
	// Endpoint is the URL's scheme://host.
	Endpoint string
	// StatusCode is the HTTP status: 200 for an exception the server
	// wrote at the end of a 200 response, which it does once it has sent
	// its headers (send_progress_in_http_headers=1, a long INSERT).
	StatusCode int
	// Code is ClickHouse's error code ("Code: 60" in the body, or the
	// X-ClickHouse-Exception-Code header), or 0 if there was none.
	Code int
	// Row is the 1-based row of the INSERT that could not be parsed, from
	// "(at row N)", when the error is about one row's data; else 0.
	Row int
	// Message is the server's message, at most 512 bytes.
	Message string
}

func (e *ServerError) Error() string {
	if e.StatusCode == http.StatusOK {
		return "INSERT " + e.Endpoint + ": 200 OK, then an exception: " + strconv.Quote(e.Message)
	}
	return "INSERT " + e.Endpoint + ": " + strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode) + ": " + strconv.Quote(e.Message)
}

// Retryable reports whether the INSERT may succeed if sent again. An
// error whose code says the table, a column, a value or the login is
// wrong is not, whatever the status (old servers answer 500 for most
// errors). Otherwise: a code known to be transient, 5xx, 429 and 408 are
// retried; other statuses are not. An exception after a 200 (see
// [ServerError.StatusCode]) counts as a 500, the status the server would
// have sent had it not sent its headers yet.
func (e *ServerError) Retryable() bool {
	if permanentCodes[e.Code] || rowCodes[e.Code] {
		return false
	}
	if transientCodes[e.Code] {
		return true
	}
	return e.StatusCode >= 500 || e.StatusCode == http.StatusOK || e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusRequestTimeout
}

// rowCodes are errors about the data of one row (ErrorCodes.cpp): with
// "(at row N)" the row goes to the dead letter alone.
var rowCodes = map[int]bool{
	6:   true, // CANNOT_PARSE_TEXT
	26:  true, // CANNOT_PARSE_QUOTED_STRING
	27:  true, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
	38:  true, // CANNOT_PARSE_DATE
	41:  true, // CANNOT_PARSE_DATETIME
	53:  true, // TYPE_MISMATCH
	69:  true, // ARGUMENT_OUT_OF_BOUND
	70:  true, // CANNOT_CONVERT_TYPE
	72:  true, // CANNOT_PARSE_NUMBER
	117: true, // INCORRECT_DATA
	131: true, // TOO_LARGE_STRING_SIZE
	349: true, // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
}

// permanentCodes are errors about the schema, the query or the login:
// sending the same INSERT again cannot succeed.
var permanentCodes = map[int]bool{
	8:   true, // THERE_IS_NO_COLUMN
	10:  true, // NOT_FOUND_COLUMN_IN_BLOCK
	16:  true, // NO_SUCH_COLUMN_IN_TABLE
	20:  true, // NUMBER_OF_COLUMNS_DOESNT_MATCH
	36:  true, // BAD_ARGUMENTS
	44:  true, // ILLEGAL_COLUMN
	47:  true, // UNKNOWN_IDENTIFIER
	48:  true, // NOT_IMPLEMENTED
	60:  true, // UNKNOWN_TABLE
	62:  true, // SYNTAX_ERROR
	73:  true, // UNKNOWN_FORMAT
	81:  true, // UNKNOWN_DATABASE
	115: true, // UNKNOWN_SETTING
	164: true, // READONLY
	192: true, // UNKNOWN_USER
	193: true, // WRONG_PASSWORD
	194: true, // REQUIRED_PASSWORD
	195: true, // IP_ADDRESS_NOT_ALLOWED
	291: true, // DATABASE_ACCESS_DENIED
	497: true, // ACCESS_DENIED
	516: true, // AUTHENTICATION_FAILED
}

// transientCodes are errors that pass: overload, timeouts, replicas.
var transientCodes = map[int]bool{
	159: true, // TIMEOUT_EXCEEDED
	202: true, // TOO_MANY_SIMULTANEOUS_QUERIES
	209: true, // SOCKET_TIMEOUT
	210: true, // NETWORK_ERROR
	241: true, // MEMORY_LIMIT_EXCEEDED
	242: true, // TABLE_IS_READ_ONLY (a replica lost ZooKeeper)
	252: true, // TOO_MANY_PARTS
	285: true, // TOO_FEW_LIVE_REPLICAS
	319: true, // UNKNOWN_STATUS_OF_INSERT
	425: true, // SYSTEM_ERROR
}

var (
	codeRE = regexp.MustCompile(`^Code: (\d+)[.,] `)
	// exceptionRE finds an exception in a body: a line "Code: N. DB::Exception"
	// (or "Code: N, e.displayText() = DB::Exception" on old servers).
	exceptionRE = regexp.MustCompile(`(?m)^Code: \d+[.,] .*DB::Exception`)
	rowRE       = regexp.MustCompile(`\(at row (\d+)\)`)
)

// parseError reads ClickHouse's error body: "Code: 60, e.displayText() =
// DB::Exception: ..." (old servers) or "Code: 60. DB::Exception: ..."
// (recent ones).
func parseError(endpoint string, status int, header, body string) *ServerError {
	body = strings.TrimSpace(strings.ToValidUTF8(body, "\uFFFD"))
	e := &ServerError{Endpoint: endpoint, StatusCode: status}
	if m := codeRE.FindStringSubmatch(body); m != nil {
		e.Code, _ = strconv.Atoi(m[1])
	} else if c, err := strconv.Atoi(header); err == nil {
		e.Code = c
	}
	if rowCodes[e.Code] {
		if m := rowRE.FindStringSubmatch(body); m != nil {
			e.Row, _ = strconv.Atoi(m[1])
		}
	}
	msg := strings.Join(strings.Fields(body), " ")
	if len(msg) > 512 {
		msg = strings.ToValidUTF8(msg[:512], "") + "…"
	}
	e.Message = msg
	return e
}

// exceptionAfterOK returns the exception of a 200 response to an INSERT,
// whose body is otherwise empty: an exception written at its end (from
// its "Code: N" line; 24.11+ frame it in __exception__ markers, left out),
// or the X-ClickHouse-Exception-Code header. It returns nil if there is
// none.
func exceptionAfterOK(endpoint, header, body string) *ServerError {
	if loc := exceptionRE.FindStringIndex(body); loc != nil {
		text := body[loc[0]:]
		if i := strings.Index(text, "\n__exception__"); i >= 0 {
			text = text[:i] // and the line of its length and tag:
			if j := strings.LastIndexByte(strings.TrimRight(text, "\r\n"), '\n'); j >= 0 {
				text = text[:j]
			}
		}
		return parseError(endpoint, http.StatusOK, header, text)
	}
	if header != "" && header != "0" {
		return parseError(endpoint, http.StatusOK, header, body)
	}
	return nil
}
