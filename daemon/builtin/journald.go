//go:build !sluice_no_journald

package builtin

import "github.com/sluicehq/sluice/connector/journald"

func init() { optional = append(optional, journald.Register) }
