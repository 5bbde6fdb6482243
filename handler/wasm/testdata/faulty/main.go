//go:build wasip1

// Command faulty is a test guest written against ABI version 1 without the
// SDK. The raw line of a batch's first event says what it does:
//
//	panic      panics (the Go runtime exits with code 2)
//	loop       never returns
//	garbage    returns bytes that are not an output batch
//	outside    returns a batch that lies outside memory
//	error      returns status error "you asked for it"
//	grow       allocates until memory runs out
//	route:NAME emits each event to route NAME
//	anything else: returns each event with "!" appended to its raw line
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
	hog      [][]byte
)

//go:wasmexport sluice_abi_v1
func abiV1() {}

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
	w.Reset(true)
	first := ""
	err := abi.ReadInput(in[:n], func(i int, e *event.Event) error {
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
			w.AddOutput(uint32(i), first[6:], e)
		default:
			c := *e
			c.Raw = append(append([]byte(nil), e.Raw...), '!')
			w.AddOutput(uint32(i), "", &c)
		}
		return nil
	})
	switch {
	case err != nil:
		w.Fail(err.Error())
	case first == "garbage":
		return result([]byte{0, 0, 0, 0, 9, 9, 9})
	case first == "outside":
		return uint64(0xfffffff0)<<32 | 100
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
