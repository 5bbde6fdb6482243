package nats

import "strings"

// ackReply returns the number of deliveries and the stream sequence that
// a JetStream message's reply subject holds, reading them as
// jetstream's Msg.Metadata does but without allocating (Metadata
// allocates and parses every token: about 2,000 instructions a message).
// The subject is $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>,
// or, from newer servers, has <domain>.<account hash> after $JS.ACK and
// a token at the end (11 tokens or more). ok is false for any other
// subject; a token that is not a number reads as 0, as in Metadata.
func ackReply(subject string) (delivered, seq uint64, ok bool) {
	rest, found := strings.CutPrefix(subject, "$JS.ACK.")
	if !found {
		return 0, 0, false
	}
	var skip int // tokens before <delivered>, after $JS.ACK
	switch n := strings.Count(subject, ".") + 1; {
	case n == 9:
		skip = 2
	case n >= 11:
		skip = 4
	default:
		return 0, 0, false
	}
	for range skip {
		_, rest, _ = strings.Cut(rest, ".")
	}
	d, rest, _ := strings.Cut(rest, ".")
	s, _, _ := strings.Cut(rest, ".")
	return parseNum(d), parseNum(s), true
}

// parseNum reads a decimal number, or 0 if s is empty or holds anything
// but digits.
func parseNum(s string) (n uint64) {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}
