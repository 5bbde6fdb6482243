package syslog

// arena hands out copies of messages from large shared blocks, so that a
// message costs no allocation of its own. A block lives as long as any
// event that points into it. Not safe for concurrent use: each reading
// goroutine has its own.
type arena struct {
	block []byte
}

const arenaBlock = 256 << 10

// copy returns a copy of b that no one will write to again.
func (a *arena) copy(b []byte) []byte {
	if len(b) > arenaBlock/4 {
		return append([]byte(nil), b...)
	}
	if cap(a.block)-len(a.block) < len(b) {
		a.block = make([]byte, 0, arenaBlock)
	}
	n := len(a.block)
	a.block = append(a.block, b...)
	return a.block[n:len(a.block):len(a.block)]
}
