package gelf

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batchWriter sends datagrams on a connected UDP socket, many per system
// call where the platform has sendmmsg, and, where it has UDP
// segmentation offload (Linux's UDP_SEGMENT), runs of datagrams of one
// size as one send each: the kernel then walks its send path once per
// run instead of once per datagram. Its zero value is ready for reset;
// its buffers are kept across batches, so a write allocates nothing.
type batchWriter struct {
	c     conn
	bc    batchConn    // c's sendmmsg, if it has one
	noGSO *atomic.Bool // set once the kernel refused a segmented send

	msgs []ipv4.Message // ipv6.Message is the same type
	bufs [][]byte       // msgs[k].Buffers is bufs[k : k+1]
	segs []int          // datagrams of msgs[k]
	run  []byte         // runs of padded datagrams, back to back
	oob  []byte         // msgs[k]'s UDP_SEGMENT control message
}

// batchConn sends many datagrams per system call: *ipv4.PacketConn,
// *ipv6.PacketConn (the same Message type), *udpConn.
type batchConn interface {
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// reset makes w write to c; noGSO turns segmentation off for good when
// the kernel refuses it.
func (w *batchWriter) reset(c conn, noGSO *atomic.Bool) {
	w.c, w.bc, w.noGSO = c, nil, noGSO
	switch c := c.(type) {
	case batchConn:
		w.bc = c
	case net.PacketConn:
		if a, ok := c.(net.Conn).RemoteAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
			w.bc = ipv6.NewPacketConn(c)
		} else {
			w.bc = ipv4.NewPacketConn(c)
		}
	}
}

// Limits of one segmented send.
const (
	maxSegments = 64    // UDP_MAX_SEGMENTS of older kernels
	maxRunBytes = 65507 // the UDP payload of one IPv4 packet
	// maxPadShare: a run's padding is at most 1/maxPadShare of its bytes.
	// A looser bound makes runs longer (fewer sends, less CPU) and sends
	// more bytes: on realistic syslog events as GELF (376–864 bytes,
	// 540 on average), 1/8 gives some 17 runs per 64 datagrams and 8%
	// padding for about 16% more CPU an event than 1/4, which gives six
	// runs and 22% (measured alternating on a shared machine).
	maxPadShare = 4
)

// spaces pads datagrams.
const spaces = "                                                                "

// write sends the datagrams of b (datagram k ends at ends[k]; it may be
// padded with trailing spaces up to the size of its neighbours if pad[k])
// and returns how many were sent before an error. A segmented send the
// kernel refuses (EINVAL, EIO, EOPNOTSUPP: no UDP_SEGMENT, no checksum
// offload, a size over the path MTU) sends nothing; the datagrams are
// then sent one by one, and so are all later ones.
func (w *batchWriter) write(b []byte, ends []int, pad []bool) (int, error) {
	if gsoSupported && w.bc != nil && !w.noGSO.Load() {
		w.segment(b, ends, pad)
		sent, err := w.send()
		if sent > 0 || err == nil || !refused(err) {
			return sent, err
		}
		w.noGSO.Store(true)
	}
	w.msgs, w.bufs, w.segs = w.msgs[:0], w.bufs[:0], w.segs[:0]
	from := 0
	for _, e := range ends {
		w.bufs = append(w.bufs, b[from:e])
		w.segs = append(w.segs, 1)
		from = e
	}
	for k := range w.bufs {
		w.msgs = append(w.msgs, ipv4.Message{Buffers: w.bufs[k : k+1 : k+1]})
	}
	return w.send()
}

// segment groups the datagrams into runs that one segmented send each
// carries: every datagram of a run but its last is padded to the run's
// segment size (the largest of them), which only those that may be are.
// Each run is the longest, from its first datagram, whose padding is at
// most a quarter (1/maxPadShare) of its bytes, so a batch's padding is
// too. A longer
// datagram pads all before it to its size, a shorter one the one before
// it; one of the segment size lowers the share again, so the search goes
// on past a datagram the run could not end with, up to maxSegments,
// maxRunBytes or a datagram that cannot be padded.
func (w *batchWriter) segment(b []byte, ends []int, pad []bool) {
	w.msgs, w.bufs, w.segs, w.run, w.oob = w.msgs[:0], w.bufs[:0], w.segs[:0], w.run[:0], w.oob[:0]
	size := func(i int) int {
		if i == 0 {
			return ends[0]
		}
		return ends[i] - ends[i-1]
	}
	for k := 0; k < len(ends); {
		// The run k..k+best-1 of segment size bestSeg is the longest found
		// within the bound. Extending to j: padded is the spaces the
		// datagrams but the last take; all may be padded if canGrow.
		n, best, seg, bestSeg, padded, canGrow := 1, 1, size(k), size(k), 0, pad[k]
		for j := k + 1; j < len(ends) && n < maxSegments; j++ {
			l, last := size(j), size(j-1)
			newSeg, newPadded := seg, padded+seg-last // the last so far is padded to seg
			if l > seg {
				if !canGrow {
					break
				}
				newSeg, newPadded = l, padded+(l-seg)*(n-1)+l-last
			} else if last < seg && !pad[j-1] {
				break // a short datagram that cannot be padded ends the run
			}
			total := n*newSeg + l
			if total > maxRunBytes {
				break
			}
			seg, padded, n = newSeg, newPadded, n+1
			canGrow = canGrow && pad[j]
			if padded*maxPadShare <= total {
				best, bestSeg = n, seg
			}
		}
		n, seg = best, bestSeg
		start := len(w.run)
		for i := k; i < k+n; i++ {
			from := 0
			if i > 0 {
				from = ends[i-1]
			}
			w.run = append(w.run, b[from:ends[i]]...)
			if i < k+n-1 {
				for p := seg - size(i); p > 0; p -= len(spaces) {
					w.run = append(w.run, spaces[:min(p, len(spaces))]...)
				}
			}
		}
		w.segs = append(w.segs, n)
		w.bufs = append(w.bufs, w.run[start:len(w.run):len(w.run)])
		if n > 1 {
			w.oob = appendSegmentSize(w.oob, seg)
		}
		k += n
	}
	// w.run and w.oob may have moved while growing: point at their final
	// arrays.
	off, ooff := 0, 0
	for k, n := range w.segs {
		l := len(w.bufs[k])
		w.bufs[k] = w.run[off : off+l : off+l]
		off += l
		m := ipv4.Message{Buffers: w.bufs[k : k+1 : k+1]}
		if n > 1 {
			m.OOB = w.oob[ooff : ooff+segmentSizeLen]
			ooff += segmentSizeLen
		}
		w.msgs = append(w.msgs, m)
	}
}

// send writes w.msgs and returns how many datagrams were sent.
func (w *batchWriter) send() (int, error) {
	sent, datagrams := 0, 0
	for sent < len(w.msgs) {
		var n int
		var err error
		if w.bc != nil {
			n, err = w.bc.WriteBatch(w.msgs[sent:], 0)
		} else {
			_, err = w.c.Write(w.msgs[sent].Buffers[0])
			n = 1
		}
		if err != nil {
			return datagrams, err
		}
		for _, s := range w.segs[sent : sent+n] {
			datagrams += s
		}
		sent += n
	}
	return datagrams, nil
}

// refused reports whether err is the kernel refusing a segmented send.
func refused(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EOPNOTSUPP) ||
		errors.Is(err, syscall.ENOPROTOOPT) || errors.Is(err, syscall.EMSGSIZE)
}
