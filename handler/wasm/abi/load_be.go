//go:build !(386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm)

package abi

import "unsafe"

// u32 and u64 load a little-endian integer at p.
func u32(p unsafe.Pointer) uint32 { return le.Uint32((*[4]byte)(p)[:]) }

func u64(p unsafe.Pointer) uint64 { return le.Uint64((*[8]byte)(p)[:]) }

// put32 and put64 store a little-endian integer at p.
func put32(p unsafe.Pointer, v uint32) { le.PutUint32((*[4]byte)(p)[:], v) }
func put64(p unsafe.Pointer, v uint64) { le.PutUint64((*[8]byte)(p)[:], v) }
