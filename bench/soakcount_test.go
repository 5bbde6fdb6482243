package main

import (
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
)

// TestSoakCounter writes a load of 1000 lines two and a half times over,
// less one line and with another twice, reading as it goes: the verdict
// finds exactly the missing and the duplicated line, and, on Linux, what
// was read no longer holds pages.
func TestSoakCounter(t *testing.T) {
	l, err := BuildLoad(Format5424, FramingLF, 1000)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "out.log")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := newSoakCounter(path, l.Lines())
	defer c.close()
	const sent = 2500
	for i := range sent {
		frame := l.Frame(i % l.Lines())
		switch i {
		case 1200: // lost
			continue
		case 1700: // written twice, the second time split across a poll
			if _, err := f.Write(frame); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(frame[:10]); err != nil {
				t.Fatal(err)
			}
			if err := c.poll(); err != nil {
				t.Fatal(err)
			}
			frame = frame[10:]
		}
		if _, err := f.Write(frame); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			if err := c.poll(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := c.poll(); err != nil {
		t.Fatal(err)
	}
	v := c.verdict(sent)
	if v.Missing != 1 || v.Duplicates != 1 || v.Lines != sent || v.NoSeq != 0 {
		t.Errorf("verdict %+v, want 1 missing, 1 duplicate, %d lines", v, sent)
	}
	if runtime.GOOS == "linux" && !c.noHoles {
		var st syscall.Stat_t
		if err := syscall.Stat(path, &st); err != nil {
			t.Fatal(err)
		}
		if held := st.Blocks * 512; held >= st.Size/2 {
			t.Errorf("the file holds %d bytes of pages for %d bytes written: what was read was not freed", held, st.Size)
		}
	}
}
