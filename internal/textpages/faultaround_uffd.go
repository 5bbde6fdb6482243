//go:build linux && (386 || amd64 || arm || arm64 || loong64 || riscv64 || s390x)

package textpages

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// From linux/userfaultfd.h; the ioctl numbers are _IOWR(0xAA, nr, size)
// in the encoding these architectures share.
const (
	uffdAPI            = 0xAA
	uffdUserModeOnly   = 1                               // UFFD_USER_MODE_ONLY: allowed unprivileged
	uffdFeatureWPAsync = 1 << 15                         // UFFD_FEATURE_WP_ASYNC
	uffdModeWP         = 1 << 1                          // UFFDIO_REGISTER_MODE_WP
	iocUffdAPI         = 3<<30 | 24<<16 | 0xAA<<8 | 0x3F // UFFDIO_API
	iocUffdRegister    = 3<<30 | 32<<16 | 0xAA<<8        // UFFDIO_REGISTER (nr 0)
)

var faultAround struct {
	sync.Mutex
	fd int // the userfaultfd, open for the life of the process; 0 if none
}

func noFaultAround() error {
	faultAround.Lock()
	defer faultAround.Unlock()
	if faultAround.fd > 0 {
		return nil
	}
	fd, _, e := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|unix.O_NONBLOCK|uffdUserModeOnly, 0, 0)
	if e != 0 {
		return fmt.Errorf("userfaultfd: %w", e)
	}
	api := struct{ api, features, ioctls uint64 }{uffdAPI, uffdFeatureWPAsync, 0}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, fd, iocUffdAPI, uintptr(unsafe.Pointer(&api))); e != 0 {
		unix.Close(int(fd))
		return fmt.Errorf("userfaultfd: asynchronous write-protect mode (Linux 6.7): %w", e)
	}
	ranges, err := readOnlyMappings()
	if err == nil && len(ranges) == 0 {
		err = errors.New("no read-only mapping of the executable")
	}
	n := 0
	for _, r := range ranges {
		reg := struct{ start, len, mode, ioctls uint64 }{r[0], r[1] - r[0], uffdModeWP, 0}
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, fd, iocUffdRegister, uintptr(unsafe.Pointer(&reg))); e != 0 {
			err = fmt.Errorf("userfaultfd: registering %#x-%#x: %w", r[0], r[1], e)
			break
		}
		n++
	}
	if n == 0 {
		unix.Close(int(fd)) // nothing registered: nothing changes
		return err
	}
	faultAround.fd = int(fd) // kept open: closing it unregisters
	return err
}

// readOnlyMappings returns the [lo, hi) ranges of the executable's
// read-only, file-backed mappings, from /proc/self/maps.
func readOnlyMappings() ([][2]uint64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][2]uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "lo-hi perms offset dev inode path"
		fs := strings.Fields(sc.Text())
		if len(fs) != 6 || fs[5] != exe || len(fs[1]) != 4 || fs[1][1] != '-' {
			continue
		}
		a, b, _ := strings.Cut(fs[0], "-")
		lo, err1 := strconv.ParseUint(a, 16, 64)
		hi, err2 := strconv.ParseUint(b, 16, 64)
		if err1 != nil || err2 != nil || hi <= lo {
			continue
		}
		out = append(out, [2]uint64{lo, hi})
	}
	return out, sc.Err()
}

func faultAroundOff() bool {
	faultAround.Lock()
	defer faultAround.Unlock()
	return faultAround.fd > 0
}
