//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm

package abi

import "unsafe"

// u32 and u64 load a little-endian integer at p, unaligned: one load on
// a little-endian machine, and cheap enough for Go to inline its callers.
func u32(p unsafe.Pointer) uint32 { return *(*uint32)(p) }

func u64(p unsafe.Pointer) uint64 { return *(*uint64)(p) }

// put32 and put64 store a little-endian integer at p, unaligned: one
// store, where encoding/binary's is a store a byte in WebAssembly.
func put32(p unsafe.Pointer, v uint32) { *(*uint32)(p) = v }
func put64(p unsafe.Pointer, v uint64) { *(*uint64)(p) = v }
