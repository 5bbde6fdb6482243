package config

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// unknownField returns the message for a key that names none of the
// fields names: "unknown field", with a suggestion if one is close.
func unknownField(key string, names []string) string {
	if s := suggest(key, names); s != "" {
		return "unknown field (did you mean " + strconv.Quote(s) + "?)"
	}
	return "unknown field"
}

// suggest returns the name in names that key was probably meant to be: one
// that differs only in case, or else the first of those nearest to key
// within edit distance 2 (ignoring case, a swap of neighbours counting as
// one edit) and nearer than key is long. It returns "" if none is.
func suggest(key string, names []string) string {
	for _, n := range names {
		if strings.EqualFold(n, key) {
			return n
		}
	}
	best, bestDist := "", 3
	lkey := strings.ToLower(key)
	klen := utf8.RuneCountInString(key)
	for _, n := range names {
		if diff := klen - utf8.RuneCountInString(n); diff > 2 || diff < -2 {
			continue
		}
		if d := distance(lkey, strings.ToLower(n)); d < bestDist && d < klen {
			best, bestDist = n, d
		}
	}
	return best
}

// distance returns the optimal string alignment distance between a and b:
// the number of rune insertions, deletions, substitutions and swaps of
// adjacent runes that turn one into the other.
func distance(a, b string) int {
	s, t := []rune(a), []rune(b)
	prev2 := make([]int, len(t)+1)
	prev := make([]int, len(t)+1)
	cur := make([]int, len(t)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(s); i++ {
		cur[0] = i
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(t)]
}
