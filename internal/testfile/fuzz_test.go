package testfile_test

import (
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/pattern"
	"github.com/warden-authz/warden/internal/testfile"
)

// FuzzParse: the test-file parser never panics, every error has a
// position inside the file, and a file it accepts holds only valid
// requests, at least one case, and a policy.
func FuzzParse(f *testing.F) {
	f.Add([]byte("policy = 'p.toml'\n" + goodCase))
	f.Add([]byte("policy = 'p.toml'\n[[cases]]\nname = 'x'\nsubject = 'a'\nresource = ''\naction = 'b'\nallowed = false\nrule = 'rules.r1 deny[1]'\neffect = 'none'\nreason = 'r'\n"))
	f.Add([]byte("[[cases]]\n[[cases]]\n[cases]\npolicy = 1\n"))
	f.Add([]byte("policy = [[[{a = 1}]]]\ncases = {}\n"))
	f.Add([]byte("\xef\xbb\xbfpolicy = \"p\"\n[[cases]]\nsubject = \"\\u00e9\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tf, errs := testfile.Parse("f.toml", data)
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
