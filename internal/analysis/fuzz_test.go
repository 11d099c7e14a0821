package analysis_test

import (
	"testing"

	"github.com/warden-authz/warden/internal/analysis"
	"github.com/warden-authz/warden/internal/pattern"
)

// FuzzRepresentatives: for any patterns, representatives are valid names,
// include every valid literal, and cover every name given as a probe.
func FuzzRepresentatives(f *testing.F) {
	f.Add("a*,b:*", "a:b", "ab:x")
	f.Add("*x*:*:y", "_", "zz:q:y")
	f.Add("set*:*Name", "setName", "setX:yName")
	f.Fuzz(func(t *testing.T, pat, literal, probe string) {
		p, err := pattern.Parse(pat)
		if err != nil || len(pat) > 64 {
			return
		}
		reps, err := analysis.Representatives([]pattern.Pattern{p}, []string{literal})
		if err != nil {
			return // refusing is allowed; answering wrongly is not
		}
		for _, r := range reps {
			if pattern.CheckName(r) != nil {
				t.Fatalf("invalid representative %q", r)
			}
		}
		if pattern.CheckName(literal) == nil && !contains(reps, literal) {
			t.Fatalf("literal %q missing from %q", literal, reps)
		}
		if pattern.CheckName(probe) != nil || probe == literal {
			return
		}
		for _, r := range reps {
			if r != literal && p.Match(r) == p.Match(probe) {
				return
			}
		}
		t.Fatalf("probe %q (matches %v) has no representative among %q", probe, p.Match(probe), reps)
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
