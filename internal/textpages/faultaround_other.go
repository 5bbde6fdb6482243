//go:build !linux || !(386 || amd64 || arm || arm64 || loong64 || riscv64 || s390x)

package textpages

import "errors"

func noFaultAround() error { return errors.ErrUnsupported }

func faultAroundOff() bool { return false }
