package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/workload"
)

// runLint runs `warden <args>` in-process as Run does, and returns the
// exit code and streams.
func runLint(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	r := runCmd(t, lintRoot(), args...)
	return r.code, r.stdout, r.stderr
}

func policyFile(t *testing.T, text string) string {
	t.Helper()
	return write(t, "", "policy.toml", text)
}

// TestLintExitCodes pins lint's exit codes: 0 without findings at the
// gating severity, 1 with them, 2 for usage and input errors (SPEC 9.1).
func TestLintExitCodes(t *testing.T) {
	t.Parallel()
	clean := policyFile(t, "[[rules]]\nallow = [['alice', 'doc', 'read']]\n")
	warning := policyFile(t, "[[rules]]\nallow = [['alice', 'doc', 'read']]\n[rule_policy]\nmismatch_decision = 'allow'\n")
	info := policyFile(t, "[groups]\na = ['b']\nb = ['a', 'u']\n[[rules]]\nallow = [['a', 'doc', 'read']]\n")
	strictError := policyFile(t, "strict_schemas = true\n[schemas]\nd = 'doc:{id}'\n[[rules]]\nallow = [['alice', 'page:*', 'read']]\n")
	broken := policyFile(t, "[rules\n")
	binary := policyFile(t, "\x00\xff\xfe[[rules]]\x00")
	bom := policyFile(t, "\xef\xbb\xbf[[rules]]\nallow = [['alice', 'doc', 'read']]\n")
	badSchema := policyFile(t, "[schemas]\nd = 'doc:x{id}'\n[[rules]]\nallow = [['alice', 'doc:*', 'read']]\n")
	tests := []cmdCase{
		{"clean", []string{"lint", "-c", clean}, 0, []string{"0 error(s), 0 warning(s), 0 info(s)"}, ""},
		{"warning passes", []string{"lint", "-c", warning}, 0, []string{"[fail-open]"}, ""},
		{"warning gates with --strict", []string{"lint", "--strict", "-c", warning}, 1, []string{"4:21: warning:"}, ""},
		{"info never gates", []string{"lint", "--strict", "-c", info}, 0, []string{"[cycle]"}, ""},
		{"error gates", []string{"lint", "-c", strictError}, 1, []string{"error: resource \"page:*\""}, ""},
		{"fix hint shown", []string{"lint", "-c", warning}, 0, []string{"  fix: remove mismatch_decision"}, ""},
		{"no config", []string{"lint"}, 2, nil, "--config"},
		{"missing file", []string{"lint", "-c", "/nonexistent/p.toml"}, 2, nil, "no such file"},
		{"directory", []string{"lint", "-c", t.TempDir()}, 2, nil, "directory"},
		{"invalid TOML", []string{"lint", "-c", broken}, 2, []string{"policy.toml:1:"}, ""},
		{"binary file", []string{"lint", "-c", binary}, 2, []string{"invalid TOML"}, ""},
		{"byte order mark", []string{"lint", "-c", bom}, 0, []string{"0 error(s)"}, ""},
		{"empty --config", []string{"lint", "--config", ""}, 2, nil, "--config"},
		{"invalid schema", []string{"lint", "-c", badSchema}, 2, []string{"2:5: schemas.d"}, ""},
		{"arguments refused", []string{"lint", "-c", clean, "extra"}, 2, nil, "unknown command"},
		{"unknown flag", []string{"lint", "--nope", "-c", clean}, 2, nil, "unknown flag"},
	}
	runCases(t, lintRoot, tests)
}

// TestLintJSON checks the machine output: every finding with its severity
// name, code, position, message and hint; diagnostics for a file that does
// not load.
func TestLintJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		policy string
		code   int
		valid  bool
		want   []string // severity code line:column, in order
		diags  int
	}{
		{"findings", "[roles]\nadmin = ['u']\n[[rules]]\nallow = [['admni', 'doc', 'read'], ['*', 'x', '*']]\n[rule_policy]\nmismatch_decision = 'allow'\n",
			0, true, []string{"warning typo 4:11", "warning broad-grant 4:36", "warning fail-open 6:21"}, 0},
		{"clean", "[[rules]]\nallow = [['u', 'doc', 'read']]\n", 0, true, nil, 0},
		{"invalid", "[[rules]]\nallow = [['u', 'a::b', 'read']]\nnope = 1\n", 2, false, nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, _ := runLint(t, "lint", "--json", "-c", policyFile(t, tt.policy))
			if code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			var res lintResult
			dec := json.NewDecoder(strings.NewReader(out))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&res); err != nil {
				t.Fatalf("%v in %s", err, out)
			}
			var got []string
			for _, f := range res.Findings {
				got = append(got, strings.Join([]string{f.Severity.String(), f.Code, itoa(f.Line) + ":" + itoa(f.Column)}, " "))
				if f.Message == "" || f.Hint == "" || !strings.HasSuffix(f.File, "policy.toml") {
					t.Errorf("incomplete finding %+v", f)
				}
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || res.Valid != tt.valid || len(res.Diagnostics) != tt.diags {
				t.Errorf("got valid=%v %q and %d diagnostics, want valid=%v %q and %d\n%s", res.Valid, got, len(res.Diagnostics), tt.valid, tt.want, tt.diags, out)
			}
			if res.Warnings != len(tt.want) || res.Errors != 0 || res.Infos != 0 {
				t.Errorf("counts %d/%d/%d", res.Errors, res.Warnings, res.Infos)
			}
			if !strings.Contains(out, `"severity":"warning"`) && len(tt.want) > 0 {
				t.Errorf("severity is not spelled out: %s", out)
			}
		})
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// BenchmarkLintCommandRBACLarge is `warden lint` end to end on the
// 110,000-rule RBAC policy file: reading, parsing, compiling and linting.
func BenchmarkLintCommandRBACLarge(b *testing.B) {
	path := filepath.Join(b.TempDir(), "rbac-large.toml")
	if err := os.WriteFile(path, []byte(workload.TOML(workload.RBAC("large", 100000, 10000).Source)), 0o600); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if code, out, errOut := runLint(b, "lint", "-c", path); code != 0 {
			b.Fatalf("exit %d: %s %s", code, out, errOut)
		}
	}
}
