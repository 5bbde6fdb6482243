package file_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sluicehq/sluice/connector/file"
)

func ExampleNewSource() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	src, err := file.NewSource(file.SourceConfig{
		Paths:     []string{filepath.Join(dir, "*.log")}, // such as /var/log/app/*.log
		Exclude:   []string{"*.gz"},
		StartAt:   "beginning",
		StateDir:  filepath.Join(dir, "state"), // in sluiced: <dataDir>/state/<name>
		Multiline: &file.MultilineConfig{StartPattern: `^\d{4}-\d{2}-\d{2} `, Timeout: time.Second},
	}, "app")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = src.Run(ctx) // normally in its own goroutine, for as long as Recv is called
	_, _, err = src.Recv(context.Background())
	fmt.Println(err)
	// Output: EOF
}
