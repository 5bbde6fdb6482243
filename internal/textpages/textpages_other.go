//go:build !linux

package textpages

func release() (int64, error) { return 0, nil }
