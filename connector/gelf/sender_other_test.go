//go:build !linux

package gelf_test

import "testing"

const senderEnv = "GELF_BENCH_SENDER"

type senderSpec struct {
	Compression string
	ChunkSize   int
	Raw         int
	Realistic   bool
}

func senderChild() {}

func senderPerEvent(b *testing.B, _ senderSpec) {
	b.Skip("the sender-only case needs Linux (network namespaces, the ifb driver)")
}
