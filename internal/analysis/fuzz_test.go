package analysis_test

import (
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/analysis"
	"github.com/warden-authz/warden/internal/pattern"
)

// FuzzParseTestFile: the test-file parser never panics, every error has a
// position inside the file, and a file it accepts holds only valid
// requests, at least one case, and a policy.
func FuzzParseTestFile(f *testing.F) {
	f.Add([]byte("policy = 'p.toml'\n" + goodCase))
	f.Add([]byte("policy = 'p.toml'\n[[cases]]\nname = 'x'\nsubject = 'a'\nresource = ''\naction = 'b'\nallowed = false\nrule = 'rules.r1 deny[1]'\neffect = 'none'\nreason = 'r'\n"))
	f.Add([]byte("[[cases]]\n[[cases]]\n[cases]\npolicy = 1\n"))
	f.Add([]byte("policy = [[[{a = 1}]]]\ncases = {}\n"))
	f.Add([]byte("\xef\xbb\xbfpolicy = \"p\"\n[[cases]]\nsubject = \"\\u00e9\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tf, errs := analysis.ParseTestFile("f.toml", data)
		lines := strings.Count(string(data), "\n") + 1
		for _, d := range errs {
			if d.File != "f.toml" || d.Line < 1 || d.Line > lines || d.Column < 1 {
				t.Fatalf("error outside the file: %v", d)
			}
		}
		if len(errs) > 0 {
			return
		}
		if tf.Policy == "" || len(tf.Cases) == 0 {
			t.Fatalf("accepted a file without policy or cases: %+v", tf)
		}
		for _, c := range tf.Cases {
			if pattern.CheckName(c.Subject) != nil || pattern.CheckName(c.Action) != nil ||
				(c.Resource != "" && pattern.CheckName(c.Resource) != nil) {
				t.Fatalf("accepted an invalid request: %+v", c)
			}
		}
	})
}

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
