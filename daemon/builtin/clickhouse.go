//go:build !sluice_no_clickhouse

package builtin

import "github.com/sluicehq/sluice/connector/clickhouse"

func init() { optional = append(optional, clickhouse.Register) }
