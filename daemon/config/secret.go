package config

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// Redacted is what a non-empty [Secret] shows instead of its value.
const Redacted = "REDACTED"

// Secret is a string that never shows its value: it prints, marshals and
// logs as "REDACTED". An empty Secret shows as "", so that a reader can
// tell a secret that is unset from one that is set. [Secret.Reveal]
// returns the value. [Decode] never puts a Secret's value in an error.
//
// Marshalling a config that holds a Secret and decoding it again gives
// "REDACTED", not the secret. Do not use a Secret as a map key:
// encoding/json writes string-typed keys as they are.
type Secret string

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) shown() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// String returns "REDACTED", or "" if s is empty.
func (s Secret) String() string { return s.shown() }

// GoString returns the quoted form of [Secret.String], "\"REDACTED\"".
func (s Secret) GoString() string { return strconv.Quote(s.shown()) }

// Format implements [fmt.Formatter] so that every verb shows
// [Secret.String]: %q quotes it, %#v gives [Secret.GoString], and width
// and flags apply to %s, %v and %q. Other verbs write it as it is.
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, s.GoString())
	case verb == 's' || verb == 'v' || verb == 'q':
		_, _ = fmt.Fprintf(f, fmt.FormatString(f, verb), s.shown())
	default:
		_, _ = io.WriteString(f, s.shown())
	}
}

// MarshalJSON returns "REDACTED" (or "" if s is empty) as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.shown())), nil }

// MarshalText returns REDACTED (or nothing if s is empty).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.shown()), nil }

// LogValue implements [slog.LogValuer]: "REDACTED", or "" if s is empty.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.shown()) }

var (
	_ fmt.Stringer   = Secret("")
	_ fmt.GoStringer = Secret("")
	_ fmt.Formatter  = Secret("")
	_ slog.LogValuer = Secret("")
)

// RedactUserinfo returns the address s, a URL or not, with whatever
// precedes its last '@' (a user name and password, or a token, as in
// nats://user:pass@host:4222) replaced by "REDACTED", and the scheme
// kept: a form of s that an error about it may quote.
func RedactUserinfo(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return s
	}
	scheme := ""
	if i := strings.Index(s, "://"); i >= 0 && i < at {
		scheme = s[:i+3]
	}
	return scheme + Redacted + s[at:]
}
