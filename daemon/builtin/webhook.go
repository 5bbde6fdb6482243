//go:build !sluice_no_webhook

package builtin

import "github.com/sluicehq/sluice/connector/webhook"

func init() { optional = append(optional, webhook.Register) }
