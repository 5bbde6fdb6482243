//go:build !sluice_no_gelf

package builtin

import "github.com/sluicehq/sluice/connector/gelf"

func init() { optional = append(optional, gelf.Register) }
