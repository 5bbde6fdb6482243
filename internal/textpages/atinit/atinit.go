// Package atinit, imported for its side effect by a program's main
// package, calls textpages.NoFaultAround while packages initialise, then
// textpages.Release for the pages faulted around before it: the packages
// initialised after it (in sluiced, most of them) leave only the pages
// they touch resident, not 64 KiB around each.
//
// Go initialises packages in import-path order among those whose imports
// are initialised, so this package, which imports little, runs early.
package atinit

import "github.com/sluicehq/sluice/internal/textpages"

// Err is what textpages.NoFaultAround returned: nil if the program pages
// are mapped only where touched.
var Err error

func init() {
	Err = textpages.NoFaultAround()
	if Err == nil {
		_, _ = textpages.Release() // an error leaves pages resident: nothing to do
	}
}
