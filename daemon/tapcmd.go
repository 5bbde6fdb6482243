package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

const tapHelp = `tap [--addr HOST:PORT | --config FILE] [--rate N] [--count N] SOURCE|ROUTE

Prints, one JSON object a line, a sample of the events passing a source (as
it received them) or a route (after its handlers), read from the admin
listener's /tap: at most --rate a second (1 to 100), until interrupted or
--count events. How many were left out is reported on standard error.
Name the point "source:NAME" or "route:NAME" when a source and a route
share a name.

The daemon refuses unless its config has "admin": {"tap": true}: tap shows
events as they flow (the values of the config's secrets masked).`

// tapCmd runs "sluiced tap".
func tapCmd(args []string, stdout, stderr io.Writer, r *Registry) int {
	fs := flag.NewFlagSet("sluiced tap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintf(stderr, "Usage: sluiced %s\n\n", tapHelp); fs.PrintDefaults() }
	addr, path := adminFlags(fs)
	perSecond := fs.Int("rate", tapDefaultRate, "events a second at most (1 to "+strconv.Itoa(tapMaxRate)+")")
	count := fs.Int("count", 0, "exit after this many events (0: run until interrupted)")
	var points []string
	for rest := args; ; { // flags before or after the point
		if err := fs.Parse(rest); err != nil {
			return exitUsage(err)
		}
		if rest = fs.Args(); len(rest) == 0 {
			break
		}
		points, rest = append(points, rest[0]), rest[1:]
	}
	if len(points) != 1 {
		return exitUsage(usageError(fs, "want one source or route, got %q", points))
	}
	base, err := adminURL(*addr, *path, r)
	if err != nil {
		fmt.Fprintln(stderr, "sluiced tap:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	q := url.Values{"point": {points[0]}, "rate": {strconv.Itoa(*perSecond)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/tap?"+q.Encode(), nil)
	if err != nil {
		fmt.Fprintln(stderr, "sluiced tap:", err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "sluiced tap: cannot reach the admin listener (is admin set in the config, and sluiced running?):", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		fmt.Fprintf(stderr, "sluiced tap: %s: %s\n", resp.Status, strings.TrimSpace(string(b)))
		return 1
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 64<<20)
	shown := 0
	for sc.Scan() {
		var line tapLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			fmt.Fprintf(stderr, "sluiced tap: a line that is not JSON: %v\n", err)
			return 1
		}
		if line.Skipped > 0 {
			fmt.Fprintf(stderr, "sluiced tap: %d events not shown (over %d a second)\n", line.Skipped, *perSecond)
			continue
		}
		fmt.Fprintf(stdout, "%s\n", line.Event)
		if shown++; *count > 0 && shown >= *count {
			return 0
		}
	}
	if ctx.Err() != nil {
		return 0
	}
	fmt.Fprintln(stderr, "sluiced tap: the tap ended: sluiced stopped")
	return 1
}
