//go:build !purego

package event

// next returns the index of the first byte of s[i:] that is not plain
// ASCII (see [special]), or len(s). On amd64 it looks at sixteen bytes
// a step with SSE2 (part of every amd64 CPU), a quarter of the
// instructions of [nextSWAR]; strings shorter than that take nextSWAR.
func next(s string, i int) int {
	if len(s)-i < 16 {
		return nextSWAR(s, i)
	}
	return nextSSE2(s, i)
}

// nextSSE2 is next for len(s)-i >= 16.
//
//go:noescape
func nextSSE2(s string, i int) int
