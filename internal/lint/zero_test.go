package lint_test

import (
	"testing"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/lint"
)

// TestZeroValues: linting nothing finds nothing, the zero values print,
// and decoding into a nil *Severity is an error.
func TestZeroValues(t *testing.T) {
	t.Parallel()
	for name, src := range map[string]*engine.Source{"nil": nil, "zero": {}} {
		if f := lint.Run(src, nil, nil); len(f) != 0 {
			t.Errorf("%s source: %v", name, f)
		}
		if f := lint.Run(src, nil, &lint.Options{}); len(f) != 0 {
			t.Errorf("%s source, zero options: %v", name, f)
		}
	}
	if s := (lint.Finding{}).String(); s == "" {
		t.Error("the zero Finding prints nothing")
	}
	var nilSev *lint.Severity
	if err := nilSev.UnmarshalText([]byte("error")); err == nil {
		t.Error("UnmarshalText into a nil *Severity succeeded")
	}
	var sev lint.Severity
	if err := sev.UnmarshalText(nil); err == nil {
		t.Error("UnmarshalText of nothing succeeded")
	}
}
