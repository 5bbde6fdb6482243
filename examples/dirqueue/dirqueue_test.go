package dirqueue_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/examples/dirqueue"
	"github.com/sluicehq/sluice/sluicetest"
)

func TestConformance(t *testing.T) {
	root := t.TempDir()
	sluicetest.Suite[[]byte]{
		Features: sluicetest.Features{Durable: true, Ordered: true, ConcurrentRecv: true, ConcurrentSend: true, Binary: true},
		NewPair: func(t *testing.T, name string) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
			dir := filepath.Join(root, name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			q, err := dirqueue.New(dir)
			if err != nil {
				t.Fatal(err)
			}
			return q, q
		},
		Storage: sluicetest.Storage[[]byte]{
			// Read reads the message files themselves, in name order.
			Read: func(name string) ([]sluice.Message[[]byte], error) {
				dir := filepath.Join(root, name)
				entries, err := os.ReadDir(dir)
				if err != nil {
					return nil, err
				}
				var msgs []sluice.Message[[]byte]
				for _, e := range entries {
					if !strings.HasSuffix(e.Name(), ".msg") {
						continue
					}
					v, err := os.ReadFile(filepath.Join(dir, e.Name()))
					switch {
					case os.IsNotExist(err): // acked meanwhile: the suite knows it
					case err != nil:
						return nil, err
					default:
						msgs = append(msgs, sluice.Message[[]byte]{Value: v})
					}
				}
				return msgs, nil
			},
			// Fail puts a file where the directory was: every write fails.
			Fail: func(name string, fail bool) error {
				dir := filepath.Join(root, name)
				if !fail {
					if err := os.Remove(dir); err != nil {
						return err
					}
					return os.Rename(dir+".away", dir)
				}
				if err := os.Rename(dir, dir+".away"); err != nil {
					return err
				}
				return os.WriteFile(dir, nil, 0o644)
			},
		},
	}.Run(t)
}
