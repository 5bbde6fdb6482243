//go:build !sluice_no_elasticsearch

package builtin

import "github.com/sluicehq/sluice/connector/elasticsearch"

func init() { optional = append(optional, elasticsearch.Register) }
