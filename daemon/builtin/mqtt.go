//go:build !sluice_no_mqtt

package builtin

import "github.com/sluicehq/sluice/connector/mqtt"

func init() { optional = append(optional, mqtt.Register) }
