//go:build !sluice_no_httpsrc

package builtin

import "github.com/sluicehq/sluice/connector/httpsrc"

func init() { optional = append(optional, httpsrc.Register) }
