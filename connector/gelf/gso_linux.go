package gelf

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// gsoSupported: Linux has UDP_SEGMENT (since 4.18; an older kernel
// refuses it with EINVAL and the writer stops asking).
const gsoSupported = true

// segmentSizeLen is the size of a UDP_SEGMENT control message.
var segmentSizeLen = unix.CmsgSpace(2)

// appendSegmentSize appends a UDP_SEGMENT control message asking the
// kernel to cut the send into datagrams of seg bytes.
func appendSegmentSize(b []byte, seg int) []byte {
	n := len(b)
	b = append(b, make([]byte, segmentSizeLen)...)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[n]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[n+unix.CmsgLen(0):], uint16(seg))
	return b
}
