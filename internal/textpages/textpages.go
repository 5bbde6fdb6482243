// Package textpages takes the program's start-up pages out of its resident
// set.
//
// A Go program touches much of its code and constant data once, while its
// packages initialise (sluiced links every connector: about 17 MiB of its
// 22 MiB of resident program pages at idle are never used again), and the
// kernel keeps every page it mapped in the process's resident set for as
// long as the process lives. Release unmaps those pages: they stay in the
// page cache as clean, reclaimable file pages, and the ones the process
// still runs are mapped back by minor faults as it touches them, without
// any read from disk. It does not free page cache, so a memory cgroup
// that counts page cache sees no change; what changes is the process's
// RSS (and that the pages are no longer pinned by a mapping when memory is
// short).
package textpages

// Release unmaps the resident pages of the executable's read-only,
// file-backed mappings that hold no private (modified) page, and returns
// how many bytes of mappings it released. It is safe to call at any time,
// from any goroutine: such pages are the file's bytes, read back on the
// next access. On systems other than Linux it does nothing.
func Release() (int64, error) { return release() }
