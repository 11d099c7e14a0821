package config

import (
	"os"

	"github.com/warden-authz/warden/internal/engine"
)

// Load reads a policy file, parses it and compiles it, for the commands
// that need its source beside the compiled policy (diff, test). The error
// is a diag.List of every problem the file has, parse and compile alike,
// or says why the file could not be read; then there is no policy.
func Load(path string) (*engine.Source, *engine.Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	src, errs := Parse(path, data)
	p, cerrs := engine.Compile(src)
	errs = append(errs, cerrs...)
	if len(errs) > 0 {
		errs.Sort()
		return nil, nil, errs
	}
	return src, p, nil
}
