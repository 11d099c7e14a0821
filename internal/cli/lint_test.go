package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/workload"
)

// runLint runs `warden <args>` in-process as Run does, with lint added to
// the root when the root does not carry it yet, and returns the exit code
// and streams.
func runLint(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(strings.NewReader(""), &out, &errOut)
	if c, _, err := root.Find([]string{"lint"}); err != nil || c == root {
		root.AddCommand(newLint())
	}
	root.SetArgs(args)
	err := root.Execute()
	var ee *exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.code
		if ee.err != nil {
			errOut.WriteString(ee.err.Error())
		}
	default:
		code = ExitUsage
		errOut.WriteString(err.Error())
	}
	return code, out.String(), errOut.String()
}

func policyFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
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
	tests := []struct {
		name string
		args []string
		code int
		out  string // substring of stdout
		err  string // substring of stderr
	}{
		{"clean", []string{"lint", "-c", clean}, 0, "0 error(s), 0 warning(s), 0 info(s)", ""},
		{"warning passes", []string{"lint", "-c", warning}, 0, "[fail-open]", ""},
		{"warning gates with --strict", []string{"lint", "--strict", "-c", warning}, 1, "4:21: warning:", ""},
		{"info never gates", []string{"lint", "--strict", "-c", info}, 0, "[cycle]", ""},
		{"error gates", []string{"lint", "-c", strictError}, 1, "error: resource \"page:*\"", ""},
		{"fix hint shown", []string{"lint", "-c", warning}, 0, "  fix: remove mismatch_decision", ""},
		{"no config", []string{"lint"}, 2, "", "--config"},
		{"missing file", []string{"lint", "-c", "/nonexistent/p.toml"}, 2, "", "no such file"},
		{"directory", []string{"lint", "-c", t.TempDir()}, 2, "", "directory"},
		{"invalid TOML", []string{"lint", "-c", broken}, 2, "policy.toml:1:", ""},
		{"binary file", []string{"lint", "-c", binary}, 2, "invalid TOML", ""},
		{"byte order mark", []string{"lint", "-c", bom}, 0, "0 error(s)", ""},
		{"empty --config", []string{"lint", "--config", ""}, 2, "", "--config"},
		{"invalid schema", []string{"lint", "-c", badSchema}, 2, "2:5: schemas.d", ""},
		{"arguments refused", []string{"lint", "-c", clean, "extra"}, 2, "", "unknown command"},
		{"unknown flag", []string{"lint", "--nope", "-c", clean}, 2, "", "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runLint(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			if !strings.Contains(out, tt.out) {
				t.Errorf("stdout %q does not contain %q", out, tt.out)
			}
			if !strings.Contains(errOut, tt.err) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.err)
			}
		})
	}
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
