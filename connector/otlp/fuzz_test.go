package otlp

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

// fuzzEvents decodes b with decode and maps what decodes to events, as
// the listeners do: it must never panic, and every event's raw must be
// JSON the destination reads back.
func fuzzEvents(t *testing.T, b []byte, decode func(plogotlp.ExportRequest, []byte) error) {
	req := plogotlp.NewExportRequest()
	if decode(req, b) != nil {
		return
	}
	s := &Source{cfg: DefaultSourceConfig(), count: nopCounters{}}
	msgs, _ := s.events(nil, req.Logs(), len(b), "peer")
	for _, m := range msgs {
		var sh shape
		if err := decodeShape(m.Value.Raw, &sh); err != nil {
			t.Fatalf("raw %q does not read back: %v", m.Value.Raw, err)
		}
	}
	_ = toLogs(msgs)
}

func FuzzDecodeProto(f *testing.F) {
	b, _ := plogotlp.NewExportRequestFromLogs(logsOf("a", "b")).MarshalProto()
	f.Add(b)
	f.Add([]byte{0x0a, 0x02, 0x12, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzEvents(t, b, plogotlp.ExportRequest.UnmarshalProto)
	})
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1","body":{"kvlistValue":{"values":[{"key":"k","value":{"doubleValue":"NaN"}}]}},"traceId":"5b8efff798038103d269b633813fc60c"}]}]}]}`))
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"bytesValue":"AAE="}}]}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzEvents(t, b, plogotlp.ExportRequest.UnmarshalJSON)
	})
}
