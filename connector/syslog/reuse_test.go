package syslog_test

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/syslog"
	"github.com/sluicehq/sluice/event"
)

// TestRecvBatchSetsEveryField receives one line twice, once into a slot
// whose every field (found by reflection, so fields added later count
// too) holds something stale, once into a zero slot: apart from the
// receipt time, the two messages must be equal, so nothing stale shows
// through.
func TestRecvBatchSetsEveryField(t *testing.T) {
	for _, format := range []string{"auto", "none"} {
		t.Run(format, func(t *testing.T) {
			s, addrs := start(t, syslog.Config{Addr: "127.0.0.1:0", Network: "tcp", Format: format})
			c, err := net.Dial("tcp", addrs[0].String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			line := "<13>1 2026-12-06T10:00:00Z h app - - [a b=\"c\"] hello"
			fmt.Fprintf(c, "%s\n%s\n", line, line)
			msgs := make([]sluice.Message[event.Event], 2)
			fillStale(t, reflect.ValueOf(&msgs[0]).Elem())
			acks := make([]func(), len(msgs))
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			for got := 0; got < 2; {
				n, err := s.RecvBatch(ctx, msgs[got:], acks[got:])
				if err != nil {
					t.Fatalf("RecvBatch after %d events: %v", got, err)
				}
				got += n
			}
			msgs[0].Value.ReceivedAt = msgs[1].Value.ReceivedAt
			if !reflect.DeepEqual(msgs[0], msgs[1]) {
				t.Errorf("into a stale slot: %+v\ninto a zero slot:  %+v", msgs[0], msgs[1])
			}
		})
	}
}

// fillStale sets every field of v, recursively, to something not zero.
func fillStale(t *testing.T, v reflect.Value) {
	switch v.Type() {
	case reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.Unix(1, 0)))
		return
	case reflect.TypeFor[sluice.Attributes]():
		v.Set(reflect.ValueOf(sluice.AttributesOf(sluice.Attr{Key: "stale", Value: "x"})))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("stale")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(7)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillStale(t, v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fillStale(t, v.Index(0))
	case reflect.Struct:
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				t.Fatalf("%s.%s: unexported, cannot be made stale: add a case", v.Type(), v.Type().Field(i).Name)
			}
			fillStale(t, v.Field(i))
		}
	default:
		t.Fatalf("%s: kind %s cannot be made stale: add a case", v.Type(), v.Kind())
	}
}
