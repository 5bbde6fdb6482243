//go:build !sluice_no_nats

package builtin

import "github.com/sluicehq/sluice/connector/nats"

func init() { optional = append(optional, nats.Register) }
