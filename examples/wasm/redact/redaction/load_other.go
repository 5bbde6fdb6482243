//go:build !(386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm)

package redaction

import "encoding/binary"

// load64 returns the 8 bytes of s at i, little-endian; i+8 ≤ len(s).
func load64(s string, i int) uint64 {
	return binary.LittleEndian.Uint64([]byte(s[i : i+8]))
}

// store64 stores w at b[i:i+8], little-endian.
func store64(b []byte, i int, w uint64) { binary.LittleEndian.PutUint64(b[i:i+8], w) }

// at returns s[i].
func at(s string, i int) byte { return s[i] }
