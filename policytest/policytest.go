// Package policytest runs warden policy test files inside go test, so a
// policy's expected decisions are checked with the code that uses it:
//
//	func TestPolicy(t *testing.T) {
//		policytest.Run(t, "policy_test.toml")
//	}
//
// A test file names a policy (relative to the test file) and lists cases:
// a request and the decision expected for it, and optionally the rule that
// must decide it and a substring of the reason. `warden test` runs the same
// files from the command line. The format is described in
// docs/testfile.md.
//
// Each file runs as a subtest named after the file (its base name) and each case as a
// subtest of it, named after the case, so `go test -run` selects cases. A
// failing case shows what differed and the full explanation, as `warden
// explain` prints it. A file that cannot be read or parsed, or whose
// policy does not load, fails its subtest with every problem, each at
// file:line:col. The rule items no case decided are logged (see `go test
// -v`); they do not fail the test.
package policytest

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/testfile"
	"github.com/warden-authz/warden/types"
)

// Run runs every case of every test file as a subtest of t.
func Run(t *testing.T, files ...string) {
	t.Helper()
	if len(files) == 0 {
		t.Fatal("policytest.Run: no test files given")
	}
	suite := testfile.RunFiles(files)
	// Files are named by their base name, so `go test -run
	// TestPolicy/policy_test.toml/case` selects them; by their path when
	// two share a base name.
	bases := map[string]int{}
	for _, f := range files {
		bases[filepath.Base(f)]++
	}
	for _, f := range suite.Files {
		name := filepath.Base(f.Path)
		if bases[name] > 1 {
			name = f.Path
		}
		t.Run(name, func(t *testing.T) {
			t.Helper()
			if f.Err != nil {
				t.Fatalf("%v", f.Err)
			}
			for i := range f.Results {
				r := &f.Results[i]
				t.Run(r.Case.Label(), func(t *testing.T) {
					if r.Passed() {
						return
					}
					var b strings.Builder
					fmt.Fprintf(&b, "%v: case %q failed:\n", r.Case.Pos, r.Case.Label())
					for _, msg := range r.Failures {
						fmt.Fprintf(&b, "  %s\n", msg)
					}
					b.WriteString("\n")
					r.Explanation.WriteText(&b, types.Request{Subject: r.Case.Subject, Resource: r.Case.Resource, Action: r.Case.Action})
					t.Error(b.String())
				})
			}
		})
	}
	for i, c := range suite.Coverage {
		un := c.Uncovered()
		if len(un) == 0 {
			t.Logf("coverage: %s: every rule item (%d) decided some case", suite.Paths[i], len(c.Src.Rules))
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "coverage: %s: %d of %d rule items decided no case:", suite.Paths[i], len(un), len(c.Src.Rules))
		for _, r := range un {
			fmt.Fprintf(&b, "\n  %s  %v  [%q, %q, %q]", testfile.ItemName(r), r.Pos, r.Subject, r.Resource, r.Action)
		}
		t.Log(b.String())
	}
}
