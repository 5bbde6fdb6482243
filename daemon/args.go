package daemon

import (
	"flag"
	"fmt"
)

// parseArgs parses args with fs, whose --config flag is path, and takes a
// positional argument as the config file: "run FILE" is "run --config
// FILE", with flags before or after FILE. More than one file, or a FILE
// and a different --config, is a usage error (printed, like fs's own), so
// that a mistyped command line never falls back to the embedded default.
func parseArgs(fs *flag.FlagSet, path *string, args []string) error {
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if i := len(args) - len(rest) - 1; i >= 0 && args[i] == "--" {
			files = append(files, rest...) // after "--", no more flags
			break
		}
		files, args = append(files, rest[0]), rest[1:]
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	switch {
	case explicit && *path == "", len(files) == 1 && files[0] == "":
		return usageError(fs, "empty config file name")
	case len(files) > 1:
		return usageError(fs, "one config file, got %d: %q", len(files), files)
	case len(files) == 1 && *path != "" && *path != files[0]:
		return usageError(fs, "two config files: --config %q and %q", *path, files[0])
	case len(files) == 1:
		*path = files[0]
	}
	return nil
}

func usageError(fs *flag.FlagSet, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	fmt.Fprintf(fs.Output(), "%s: %v\n", fs.Name(), err)
	fs.Usage()
	return err
}
