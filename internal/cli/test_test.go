package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestTestCommand pins warden test's exit codes (0 all pass, 1 a case
// failed, 2 a file could not be run) and what it prints.
func TestTestCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "p.toml", "[rules.r1]\nallow = [['alice', 'doc', 'read'], ['bob', 'doc', 'read']]\n")
	pass := write(t, dir, "pass_test.toml", "policy = 'p.toml'\n[[cases]]\nsubject = 'alice'\nresource = 'doc'\naction = 'read'\nallowed = true\n")
	fail := write(t, dir, "fail_test.toml", "policy = 'p.toml'\n[[cases]]\nname = 'alice writes'\nsubject = 'alice'\nresource = 'doc'\naction = 'write'\nallowed = true\n")
	bad := write(t, dir, "bad_test.toml", "policy = 'p.toml'\n[[cases]]\nsubject = 'a*'\nresource = 'doc'\naction = 'read'\nallowed = true\n")
	tests := []cmdCase{
		{"example passes", []string{publishingTest}, 0, []string{"PASS  ../../examples/publishing/policy_test.toml:9:1  anyone reads a published article", "14 of 14 rule items decided some case", "22 passed, 0 failed"}, ""},
		{"pass with coverage gap", []string{pass}, 0, []string{"1 of 2 rule items", "not covered: rules.r1 allow[2]  " + filepath.Join(dir, "p.toml") + `:2:36  ["bob", "doc", "read"]`}, ""},
		{"failing case", []string{pass, fail}, 1, []string{
			"FAIL  " + fail + ":2:1  alice writes",
			"  expected allowed, got denied",
			`  | request:  subject "alice", action "write", resource "doc"`,
			"  | no rule matched",
			"1 passed, 1 failed",
		}, ""},
		{"bad file wins over failures", []string{fail, bad}, 2, []string{"ERROR " + bad, bad + `:3:11: subject: "a*"`, "1 file(s) with errors"}, ""},
		{"missing file", []string{filepath.Join(dir, "nope.toml")}, 2, []string{"no such file"}, ""},
		{"a policy instead of a test file", []string{"../../examples/publishing/policy.toml"}, 2, []string{
			"ERROR ../../examples/publishing/policy.toml\n  ../../examples/publishing/policy.toml:1:1: this is a policy file, not a policy test file: a test file names the policy it tests (policy = 'policy.toml') and lists [[cases]] (docs/analysis.md)\n\n0 passed",
		}, ""},
		{"no files", nil, 2, nil, "requires at least 1 arg"},
		{"unknown flag", []string{"--nope", pass}, 2, nil, "unknown flag"},
	}
	runCases(t, newTest, tests)
}

// TestTestShowsExplainOutput: a failing case shows exactly what `warden
// explain` prints for its request.
func TestTestShowsExplainOutput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	policy := write(t, dir, "p.toml", "[groups]\ng = ['alice']\n[rules.r1]\nallow = [['g', 'doc', 'read']]\ndeny = [['alice', 'doc', '*']]\n")
	tf := write(t, dir, "t_test.toml", "policy = 'p.toml'\n[[cases]]\nsubject = 'alice'\nresource = 'doc'\naction = 'read'\nallowed = true\n")
	got := runCmd(t, newTest(), tf)
	want := runCmd(t, newExplain(), "-c", policy, "alice", "doc", "read")
	if got.code != 1 || want.code != 1 {
		t.Fatalf("exit codes %d and %d, want 1 and 1", got.code, want.code)
	}
	var shown []string
	for _, line := range strings.Split(got.stdout, "\n") {
		if rest, ok := strings.CutPrefix(line, "  | "); ok {
			shown = append(shown, rest)
		} else if line == "  |" {
			shown = append(shown, "")
		}
	}
	if strings.Join(shown, "\n") != strings.TrimRight(want.stdout, "\n") {
		t.Errorf("test shows\n%s\nexplain prints\n%s", strings.Join(shown, "\n"), want.stdout)
	}
}

// TestTestJSON: --json carries every case, its decision, and coverage.
func TestTestJSON(t *testing.T) {
	t.Parallel()
	r := runCmd(t, newTest(), "--json", publishingTest)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Passed, Failed int
		Files          []struct {
			File  string
			Cases []struct {
				Name     string
				Passed   bool
				Decision struct{ Allowed bool }
			}
		}
		Coverage []struct {
			Policy    string
			Items     int
			Uncovered []any
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if out.Passed != 22 || out.Failed != 0 || len(out.Files) != 1 || len(out.Files[0].Cases) != 22 ||
		len(out.Coverage) != 1 || out.Coverage[0].Items != 14 || len(out.Coverage[0].Uncovered) != 0 {
		t.Errorf("%+v", out)
	}
	if c := out.Files[0].Cases[0]; c.Name != "anyone reads a published article" || !c.Passed || !c.Decision.Allowed {
		t.Errorf("first case %+v", c)
	}
}
