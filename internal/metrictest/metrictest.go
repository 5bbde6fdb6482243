// Package metrictest reads one series from a Prometheus /metrics page,
// for tests of sluiced's admin listener.
package metrictest

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Value returns the value of the series named exactly series (name and
// labels, as in the exposition format) at url, failing t if the page
// cannot be read or the series is absent.
func Value(t testing.TB, url, series string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", series, err)
			}
			return f
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Fatalf("%s has no series %s", url, series)
	return 0
}
