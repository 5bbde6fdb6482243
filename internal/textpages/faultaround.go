package textpages

// NoFaultAround has the kernel map only the program pages the process
// touches. On each fault in a file-backed mapping, Linux maps up to
// 64 KiB of cached pages around the one touched ("fault-around"), so a
// program that touches a few bytes of many places (sluiced's package
// initialisers, one per linked package, and the collector's reads of
// function metadata) gets most of its code and constant data resident.
// The kernel does not fault around in a mapping registered with a
// userfaultfd in write-protect mode, so NoFaultAround registers the
// executable's read-only, file-backed mappings with one, in the
// asynchronous mode in which the kernel resolves any write-protect fault
// itself (Linux 6.7 and later; the mappings are never written anyway):
// no page is write-protected and nothing reads the descriptor, which
// stays open, and so registered, for the life of the process.
//
// Call it once, as early as possible (before most packages initialise);
// the pages faulted around before it stay resident until Release. It
// returns an error, and changes nothing, where the kernel or a seccomp
// filter refuses userfaultfd (as Docker's and systemd's @system-service
// filters do) or lacks the asynchronous mode; the process then runs as
// without it. Elsewhere (systems other than Linux, Linux on
// architectures with another ioctl encoding) it returns
// errors.ErrUnsupported.
func NoFaultAround() error { return noFaultAround() }

// FaultAroundOff reports whether NoFaultAround has succeeded in this
// process.
func FaultAroundOff() bool { return faultAroundOff() }
