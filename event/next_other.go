//go:build !amd64 || purego

package event

// next returns the index of the first byte of s[i:] that is not plain
// ASCII (see [special]), or len(s).
func next(s string, i int) int { return nextSWAR(s, i) }
