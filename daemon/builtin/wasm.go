//go:build !sluice_no_wasm

package builtin

import "github.com/sluicehq/sluice/handler/wasm"

func init() { optional = append(optional, wasm.Register) }
