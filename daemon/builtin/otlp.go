//go:build !sluice_no_otlp

package builtin

import "github.com/sluicehq/sluice/connector/otlp"

func init() { optional = append(optional, otlp.Register) }
