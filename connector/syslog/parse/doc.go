// Package parse parses syslog messages in the formats of RFC 5424 and
// RFC 3164 (BSD syslog), detecting the format of each message if asked to.
//
// [Parse] does not allocate when it succeeds: every []byte of the
// [Message] it returns is a sub-slice of its input (the caller owns both,
// and must keep the input unchanged for as long as it uses the fields), and
// timestamps are decoded by hand into a [time.Time] whose location comes
// from a process-wide cache with one entry per UTC offset (so the first
// message with a new offset allocates that entry, once). Failures allocate
// only the [*ParseError].
//
// # Strict and permissive
//
// Real senders deviate from the RFCs in well-known ways. The parser accepts
// the deviations that are common and unambiguous and rejects what would make
// the fields unreliable:
//
//   - Both formats: one trailing LF is dropped before parsing (as rsyslog's
//     default DropTrailingLFOnReception does), so "…entry\n" gives the
//     message "…entry".
//   - PRI is strict: '<', 1–3 digits, '>', value 0–191, no leading zero other
//     than "<0>". A message that starts with '<' but has no valid PRI is an
//     error in both formats.
//   - RFC 5424 is strict about the header: VERSION must be 1 (later
//     versions would not mean the same fields), every header field is
//     1*PRINTUSASCII up to its RFC length (HOSTNAME 255, APP-NAME 48, PROCID
//     128, MSGID 32), fields are separated by exactly one SP, TIMESTAMP is
//     RFC 3339 with an upper-case 'T' and 'Z', seconds 00–59, a day that
//     exists in its month, and a fraction of 1–9 digits (RFC 5424 allows 6;
//     9 is accepted because some senders emit nanoseconds).
//   - RFC 5424 STRUCTURED-DATA must be well formed: SD-IDs and PARAM-NAMEs
//     are 1–32 printable US-ASCII bytes other than '=', SP, ']' and '"';
//     each param is NAME="VALUE"; elements and params are separated as the
//     ABNF says. Within a PARAM-VALUE a backslash always takes the next byte
//     with it, so \" \\ and \] are escapes and any other "\x" is kept as the
//     two bytes it is, as RFC 5424 section 6.3.3 requires. Permissive: an
//     unescaped ']' inside a quoted value is accepted (the quotes make it
//     unambiguous), PARAM-VALUE is not checked to be UTF-8, and a repeated
//     SD-ID is not an error (the RFC forbids it, but rejecting the whole
//     message would lose it for no gain).
//   - RFC 5424 MSG is any bytes; a leading UTF-8 BOM is removed.
//   - RFC 3164 never fails after a valid PRI (or no PRI at all): what cannot
//     be recognised as a header is kept as the message text. See [Parse] for
//     the exact rules.
package parse
