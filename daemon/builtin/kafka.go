//go:build !sluice_no_kafka

package builtin

import "github.com/sluicehq/sluice/connector/kafka"

func init() { optional = append(optional, kafka.Register) }
