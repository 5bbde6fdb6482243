//go:build !unix

package spool

import "os"

// flock does nothing where flock is not available.
func flock(*os.File) error { return nil }
