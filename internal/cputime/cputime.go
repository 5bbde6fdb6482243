// Package cputime reads the CPU time benchmarks report per event: on a
// machine shared with other work it varies less than the wall clock.
// Where a clock cannot be read, its function returns 0.
package cputime
