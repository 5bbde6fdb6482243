//go:build !sluice_no_splunk

package builtin

import "github.com/sluicehq/sluice/connector/splunk"

func init() { optional = append(optional, splunk.Register) }
