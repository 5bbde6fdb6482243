//go:build !sluice_no_loki

package builtin

import "github.com/sluicehq/sluice/connector/loki"

func init() { optional = append(optional, loki.Register) }
