//go:build wasip1

package guest

import "unsafe"

// in is the buffer the host writes into: the result of the last alloc,
// reused until the host asks for a larger one.
var in []byte

// keep holds the result of init until the next call, for the host to read.
var keep []byte

//go:wasmexport sluice_abi_v3
func abiV3() {}

//go:wasmexport sluice_alloc
func alloc(size uint32) uint32 {
	if uint32(cap(in)) < size {
		in = make([]byte, size)
	}
	in = in[:cap(in)]
	return ptr(in)
}

//go:wasmexport sluice_init
func initGuest(p, n uint32) uint64 {
	msg := Configure(buffer(p, n))
	if msg == "" {
		return 0
	}
	keep = []byte(msg)
	return uint64(ptr(keep))<<32 | uint64(len(keep))
}

//go:wasmexport sluice_handle
func handleBatch(p, n uint32) uint64 {
	out := Process(buffer(p, n))
	return uint64(ptr(out))<<32 | uint64(len(out))
}

// buffer returns the n bytes at p, which must be in the buffer of the last
// alloc.
func buffer(p, n uint32) []byte {
	if n == 0 {
		return nil
	}
	if p != ptr(in) || n > uint32(len(in)) {
		panic("sluice guest: host passed a buffer that alloc did not return")
	}
	return in[:n]
}

func ptr(b []byte) uint32 {
	if cap(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}
