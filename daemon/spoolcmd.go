package daemon

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/spool"
)

const spoolUsage = `Usage:
  sluiced spool inspect [[--config] FILE] [--json]
      segments, records, bytes and the oldest unacknowledged event of each
      disk buffer of the config, then of each directory under
      <dataDir>/spool that no disk buffer of the config uses ("unused":
      its events were acknowledged when spooled, and are delivered only
      once a disk buffer in that directory runs again)
  sluiced spool verify [[--config] FILE]
      check every record's checksum of each disk buffer of the config, then
      of each unused directory under <dataDir>/spool (marked UNUSED); exit 1
      if any is damaged

Both read the spool files without changing them, so they may run beside a
live sluiced (whose newest segment may then end in a record being written:
reported as a torn tail, not as damage).
`

// bufferReport is what inspect prints for one buffer, or for a spool
// directory no buffer of the config uses.
type bufferReport struct {
	Buffer string `json:"buffer,omitempty"` // none if Unused
	Config string `json:"config,omitempty"` // the buffer's config path; none if Unused
	// Unused marks a directory under <dataDir>/spool that no disk buffer
	// of the config uses.
	Unused bool `json:"unused,omitempty"`
	spool.Report
	// OldestEvent is the event time of the oldest unacknowledged event.
	OldestEvent time.Time `json:"oldestEvent,omitzero"`
	// Undecodable counts unacknowledged records that do not decode.
	Undecodable int64 `json:"undecodable,omitempty"`
}

func spoolCmd(args []string, stdout, stderr io.Writer, r *Registry) int {
	if len(args) == 0 || (args[0] != "inspect" && args[0] != "verify") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(stdout, spoolUsage)
			return 0
		}
		fmt.Fprint(stderr, spoolUsage)
		return 2
	}
	verb := args[0]
	fs, path := flags("spool "+verb, "spool "+verb+" [[--config] FILE]\n\n"+spoolUsage, stderr)
	asJSON := fs.Bool("json", false, "print the reports as JSON (inspect)")
	if err := parseArgs(fs, path, args[1:]); err != nil {
		return exitUsage(err)
	}
	data, err := readConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, "sluiced:", err)
		return 1
	}
	p, err := Load(data, r)
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	specs := p.buffers()
	var reports []bufferReport
	failed := false
	add := func(br bufferReport, dir string) {
		if err := br.inspect(dir); err != nil {
			br.Dir = dir
			fmt.Fprintf(stderr, "sluiced: %s: %v\n", br.title(), err)
			failed = true
			return
		}
		reports = append(reports, br)
	}
	var used []string
	for _, b := range specs {
		used = append(used, b.dir)
		add(bufferReport{Buffer: b.name, Config: b.path}, b.dir)
	}
	dirs, err := unusedSpools(p.File.DataDir, used)
	if err != nil {
		fmt.Fprintf(stderr, "sluiced: spools no buffer uses: %v\n", err)
		failed = true
	}
	for _, dir := range dirs {
		add(bufferReport{Unused: true}, dir)
	}
	if len(specs) == 0 && !*asJSON {
		fmt.Fprintln(stdout, "no disk buffers in this config")
	}
	switch {
	case *asJSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if reports == nil {
			reports = []bufferReport{} // [], not null
		}
		if err := enc.Encode(reports); err != nil {
			fmt.Fprintln(stderr, "sluiced:", err)
			return 1
		}
	case verb == "inspect":
		for _, br := range reports {
			printInspect(stdout, br)
		}
	default:
		for _, br := range reports {
			if !printVerify(stdout, br) {
				failed = true
			}
		}
	}
	if failed {
		return 1
	}
	return 0
}

// inspect reads the spool in dir into br.
func (br *bufferReport) inspect(dir string) error {
	var err error
	br.Report, err = spool.Inspect(dir, func(_ uint64, _ time.Time, payload []byte) {
		var e event.Event
		if event.DecodeRecord(payload, &e) != nil {
			br.Undecodable++
			return
		}
		if t := e.Timestamp(); br.OldestEvent.IsZero() || t.Before(br.OldestEvent) {
			br.OldestEvent = t
		}
	})
	return err
}

// title names what br reports on.
func (br *bufferReport) title() string {
	if br.Unused {
		return "unused spool " + br.Dir
	}
	return "buffer " + br.Buffer
}

func printInspect(w io.Writer, br bufferReport) {
	r := br.Report
	if br.Unused {
		fmt.Fprintf(w, "UNUSED spool %s: no disk buffer of this config uses it\n", r.Dir)
	} else {
		fmt.Fprintf(w, "buffer %s (%s): %s\n", br.Buffer, br.Config, r.Dir)
	}
	fmt.Fprintf(w, "  %d segments, %d bytes, %d records, %d unacknowledged", len(r.Segments), r.Bytes, r.Records, r.Unacked)
	if r.PositionOK {
		fmt.Fprintf(w, " (acknowledged up to record %d)\n", r.Position)
	} else {
		fmt.Fprintf(w, " (no readable position: all would be delivered again)\n")
	}
	if !r.OldestUnacked.IsZero() {
		fmt.Fprintf(w, "  oldest unacknowledged: written %s (%s ago), event time %s\n",
			r.OldestUnacked.UTC().Format(time.RFC3339), time.Since(r.OldestUnacked).Round(time.Second), br.OldestEvent.UTC().Format(time.RFC3339Nano))
	}
	for _, s := range r.Segments {
		fmt.Fprintf(w, "  %s  %d bytes  %d records", s.Name, s.Bytes, s.Records)
		if s.Records > 0 {
			fmt.Fprintf(w, "  #%d-#%d  written %s to %s", s.FirstSeq, s.LastSeq,
				s.FirstWrite.UTC().Format(time.RFC3339), s.LastWrite.UTC().Format(time.RFC3339))
		}
		fmt.Fprintln(w)
	}
	if br.Undecodable > 0 {
		fmt.Fprintf(w, "  %d unacknowledged records do not decode as events\n", br.Undecodable)
	}
	printDamage(w, r)
	switch {
	case !br.Unused:
	case r.Unacked > 0:
		fmt.Fprintf(w, "  its %d unacknowledged events were acknowledged to their sources when spooled: nothing delivers them\n"+
			"  until a destination or route with a disk buffer in this directory runs, such as a destination with\n"+
			"  \"buffer\": {\"type\": \"disk\", \"dir\": %q} (docs/delivery.md, \"Disk buffers\")\n", r.Unacked, r.Dir)
	default:
		fmt.Fprintf(w, "  nothing in it to deliver: it may be removed\n")
	}
}

// printVerify prints the verdict on one buffer, or unused spool, and
// reports whether it is undamaged.
func printVerify(w io.Writer, br bufferReport) bool {
	r := br.Report
	name := "buffer " + br.Buffer
	if br.Unused {
		name = "UNUSED spool " + r.Dir
	}
	if len(r.Damage) == 0 && br.Undecodable == 0 {
		fmt.Fprintf(w, "%s: ok: %d records in %d segments, every checksum good", name, r.Records, len(r.Segments))
		if r.TornBytes > 0 {
			fmt.Fprintf(w, "; a torn tail of %d bytes (a write never completed, never acknowledged)", r.TornBytes)
		}
	} else {
		fmt.Fprintf(w, "%s: DAMAGED: %d damaged regions, %d records lost, %d records that do not decode", name, len(r.Damage), r.Skipped, br.Undecodable)
		if !br.Unused {
			fmt.Fprintf(w, " (%s)", r.Dir)
		}
	}
	if br.Unused {
		fmt.Fprintf(w, "; no disk buffer of this config uses it (%d unacknowledged)", r.Unacked)
	}
	fmt.Fprintln(w)
	printDamage(w, r)
	return len(r.Damage) == 0 && br.Undecodable == 0
}

func printDamage(w io.Writer, r spool.Report) {
	for _, d := range r.Damage {
		fmt.Fprintf(w, "  damage: %s offset %d: %d bytes, %d records lost: %s\n", d.Segment, d.Offset, d.Bytes, d.Records, d.Reason)
	}
	if r.TornBytes > 0 && len(r.Damage) > 0 {
		fmt.Fprintf(w, "  torn tail: %d bytes\n", r.TornBytes)
	}
}
