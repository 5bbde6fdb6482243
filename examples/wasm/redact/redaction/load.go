//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm

package redaction

import "unsafe"

// load64 returns the 8 bytes of s at i, little-endian; the caller has
// checked that 0 ≤ i and i+8 ≤ len(s). On these machines it is one load
// (unaligned) without a bounds check: encoding/binary's is eight in
// WebAssembly, where Go combines no loads.
func load64(s string, i int) uint64 {
	return *(*uint64)(unsafe.Pointer(unsafe.Add(unsafe.Pointer(unsafe.StringData(s)), i)))
}

// store64 stores w at b[i:i+8], little-endian, as load64 loads.
func store64(b []byte, i int, w uint64) {
	_ = b[i+7]
	*(*uint64)(unsafe.Pointer(&b[i])) = w
}

// at returns s[i] without a bounds check: the caller has checked that
// i < len(s). In a Go wasm guest each check is a compare and a branch.
func at(s string, i int) byte {
	return *(*byte)(unsafe.Add(unsafe.Pointer(unsafe.StringData(s)), i))
}
