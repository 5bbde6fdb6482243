//go:build !sluice_no_socket

package builtin

import "github.com/sluicehq/sluice/connector/socket"

func init() { optional = append(optional, socket.Register) }
