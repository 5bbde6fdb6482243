// Package gelf sends events to Graylog as GELF 1.1 messages: the "gelf"
// destination, with the config of kawa's GELF example ("serviceAddr",
// "network").
//
// Over UDP each message is one datagram or, when larger than chunkSize
// even once gzipped (compression "auto"), up to 128 chunks (magic bytes
// 0x1e 0x0f, an 8-byte message id, sequence number and count); datagrams
// go out up to 64 per sendmmsg. On Linux a run of uncompressed datagrams
// goes as one segmented send (UDP_SEGMENT), all but its last padded with
// trailing spaces to one size, the padding at most a quarter of the
// run's bytes.
// Over TCP each message is uncompressed JSON followed by a NUL byte. The
// package doc of [appendMessage] lists the fields. The first connection
// is dialled when Run starts (New does no network I/O).
//
// # Delivery guarantees
//
// GELF has no acknowledgement. An event is acked once its message was
// handed to the kernel: over TCP, once the write of its batch returned;
// over UDP, once its datagrams were sent, which confirms nothing: a
// datagram lost on the way, or dropped by a busy Graylog input, is lost
// for good and cannot be detected. Use TCP where loss matters.
//
//	Outcome                              Retried?                         Acked?
//	-----------------------------------  -------------------------------  -----------------------------------
//	TCP batch written                    no                               yes
//	TCP dial or write error, timeout     yes, the whole batch on a new    after the retry is written (the
//	                                     connection, with back-off        input may get the start twice)
//	UDP datagrams sent                   no                               yes (delivery unknown)
//	UDP send error (ICMP refused)        yes, from the message that       after the retry is sent
//	                                     failed
//	UDP message over 128 chunks          no                               when the dead letter acks it;
//	                                                                      without one Run stops
//	shutdown                             for batch.stopTimeout            what is written by then
//
// As with the socket destination, bytes the kernel accepted on a TCP
// connection are lost if the input resets it before reading them. A
// connection the input closed while idle is noticed before it is written
// to again (see tcpConn), and the batch goes out on a new one.
package gelf
