//go:build !linux

package gelf

// gsoSupported: only Linux has UDP_SEGMENT.
const gsoSupported = false

const segmentSizeLen = 0

func appendSegmentSize(b []byte, _ int) []byte { return b }
