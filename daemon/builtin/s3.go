//go:build !sluice_no_s3

package builtin

import "github.com/sluicehq/sluice/connector/s3"

func init() { optional = append(optional, s3.Register) }
