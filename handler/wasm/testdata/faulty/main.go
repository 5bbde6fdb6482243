//go:build wasip1

// Command faulty is a test guest written against ABI version 2 without the
// SDK. The raw line of a batch's first event says what it does:
//
//	panic      panics (the Go runtime exits with code 2)
//	loop       never returns
//	garbage    returns bytes that are not an output batch
//	outside    returns a batch that lies outside memory
//	error      returns status error "you asked for it"
//	grow       allocates until memory runs out
//	route:NAME emits each event unchanged to route NAME
//	record     returns each event with "!" appended to its raw line, whole
//	anything else: the same, as a patch
//
// A config of "fail" makes init fail.
package main

import (
	"unsafe"

	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/wasm/abi"
)

var (
	in, keep []byte
	w        abi.Writer
	input    abi.Input
	hog      [][]byte
)

//go:wasmexport sluice_abi_v2
func abiV2() {}

//go:wasmexport sluice_alloc
func alloc(size uint32) uint32 {
	if uint32(cap(in)) < size {
		in = make([]byte, size)
	}
	in = in[:size]
	return ptr(in)
}

//go:wasmexport sluice_init
func initGuest(p, n uint32) uint64 {
	if string(in[:n]) == `"fail"` {
		return result([]byte("config says fail"))
	}
	return 0
}

//go:wasmexport sluice_handle
func handle(p, n uint32) uint64 {
	w.Reset()
	first := ""
	err := input.Reset(in[:n])
	var e event.Event
	for i := 0; err == nil && i < input.Len(); i++ {
		if err = input.Event(i, &e); err != nil {
			break
		}
		if i == 0 {
			first = string(e.Raw)
		}
		switch {
		case first == "panic":
			panic("guest panics on purpose")
		case first == "loop":
			for {
			}
		case first == "grow":
			for {
				hog = append(hog, make([]byte, 1<<20))
			}
		case len(first) > 6 && first[:6] == "route:":
			w.Keep(uint32(i), first[6:])
		case first == "record":
			e.Raw = append(append([]byte(nil), e.Raw...), '!')
			w.Record(uint32(i), "", &e)
		default:
			e.Raw = append(append([]byte(nil), e.Raw...), '!')
			w.Emit(&input, uint32(i), "", &e)
		}
	}
	switch {
	case err != nil:
		w.Fail(err.Error())
	case first == "garbage":
		return result([]byte{0, 0, 0, 0, 9, 9, 9})
	case first == "outside":
		return uint64(0xfffffff0)<<32 | 100
	case first == "count": // claims 2^32-1 events and has one
		keep = []byte{0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		return result(keep)
	case first == "error":
		w.Fail("you asked for it")
	}
	return result(w.Bytes())
}

func result(b []byte) uint64 {
	keep = b
	return uint64(ptr(b))<<32 | uint64(len(b))
}

func ptr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

func main() {}
